package dev.ristretto.devices.rtc;

import static dev.ristretto.devices.rtc.CmosRtc.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class CmosRtcTest {

    private static final long MIB = 1024L * 1024;
    private static final long GIB = 1024 * MIB;

    /** A clock the test moves by hand. */
    static final class ManualClock extends Clock {
        Instant now;

        ManualClock(String instant) {
            now = Instant.parse(instant);
        }

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    private static int read(CmosRtc rtc, int reg) {
        rtc.write(0, new byte[] {(byte) reg});
        byte[] b = new byte[1];
        rtc.read(1, b);
        return b[0] & 0xff;
    }

    private static void write(CmosRtc rtc, int reg, int value) {
        rtc.write(0, new byte[] {(byte) reg});
        rtc.write(1, new byte[] {(byte) value});
    }

    // 2026-11-29 is a Sunday.
    private final ManualClock clock = new ManualClock("2026-11-29T21:05:07.250Z");
    private final CmosRtc rtc = new CmosRtc(clock, 256 * MIB, 0);

    @Test
    void timeInBcdByDefault() {
        assertEquals(DEFAULT_B, read(rtc, REG_B));
        assertEquals(0x07, read(rtc, SECONDS));
        assertEquals(0x05, read(rtc, MINUTES));
        assertEquals(0x21, read(rtc, HOURS));
        assertEquals(0x01, read(rtc, DAY_OF_WEEK), "Sunday is 1");
        assertEquals(0x29, read(rtc, DAY_OF_MONTH));
        assertEquals(0x11, read(rtc, MONTH));
        assertEquals(0x26, read(rtc, YEAR));
        assertEquals(0x20, read(rtc, CENTURY));
    }

    @Test
    void timeInBinary() {
        write(rtc, REG_B, B_24H | B_DM_BINARY);
        assertEquals(7, read(rtc, SECONDS));
        assertEquals(5, read(rtc, MINUTES));
        assertEquals(21, read(rtc, HOURS));
        assertEquals(29, read(rtc, DAY_OF_MONTH));
        assertEquals(11, read(rtc, MONTH));
        assertEquals(26, read(rtc, YEAR));
        assertEquals(20, read(rtc, CENTURY));
    }

    @Test
    void twelveHourModeMarksPmInBit7() {
        write(rtc, REG_B, 0); // BCD, 12-hour
        assertEquals(0x80 | 0x09, read(rtc, HOURS), "21h is 9 PM");
        clock.now = Instant.parse("2026-11-29T00:30:00Z");
        assertEquals(0x12, read(rtc, HOURS), "midnight is 12 AM");
        clock.now = Instant.parse("2026-11-29T12:30:00Z");
        assertEquals(0x80 | 0x12, read(rtc, HOURS), "noon is 12 PM");
        clock.now = Instant.parse("2026-11-29T11:30:00Z");
        assertEquals(0x11, read(rtc, HOURS));
        write(rtc, REG_B, B_DM_BINARY); // binary, 12-hour
        assertEquals(11, read(rtc, HOURS));
        clock.now = Instant.parse("2026-11-29T23:30:00Z");
        assertEquals(0x80 | 11, read(rtc, HOURS));
    }

    @Test
    void twelveHourWritesAreDecoded() {
        write(rtc, REG_B, 0);
        write(rtc, HOURS, 0x80 | 0x07); // 7 PM
        write(rtc, REG_B, B_24H);
        assertEquals(0x19, read(rtc, HOURS));
    }

    @Test
    void registerCReportsEventsSinceTheLastReadAndClears() {
        read(rtc, REG_C); // start from a clean slate
        write(rtc, REG_B, B_24H | B_UIE);
        clock.advance(Duration.ofMillis(1500));
        int c = read(rtc, REG_C);
        assertEquals(C_IRQF | C_UF | C_PF, c, "update ended, 1024 Hz periodic elapsed, UIE on");
        assertEquals(0, read(rtc, REG_C), "reading C cleared it");
        clock.advance(Duration.ofMillis(1));
        assertEquals(C_PF, read(rtc, REG_C), "one 976 us period, no update, PIE off");
        write(rtc, REG_A, 0x20); // rate 0: no periodic flag
        clock.advance(Duration.ofMillis(1));
        assertEquals(0, read(rtc, REG_C));
    }

    @Test
    void alarmFlagWhenTheAlarmTimePasses() {
        write(rtc, REG_A, 0x20);
        read(rtc, REG_C);
        write(rtc, HOURS_ALARM, 0x21);
        write(rtc, MINUTES_ALARM, 0x05);
        write(rtc, SECONDS_ALARM, 0x10);
        write(rtc, REG_B, B_24H | B_AIE);
        clock.advance(Duration.ofSeconds(2)); // 21:05:09
        assertEquals(C_UF, read(rtc, REG_C));
        clock.advance(Duration.ofSeconds(1)); // 21:05:10
        assertEquals(C_IRQF | C_AF | C_UF, read(rtc, REG_C));
        write(rtc, SECONDS_ALARM, 0xc0); // don't care: every second of 21:05 matches
        clock.advance(Duration.ofSeconds(1));
        assertEquals(C_IRQF | C_AF | C_UF, read(rtc, REG_C));
    }

    @Test
    void uipIsSetOnlyInTheLast244MicrosecondsOfASecond() {
        clock.now = Instant.parse("2026-11-29T21:05:07.999755999Z");
        assertEquals(DEFAULT_A, read(rtc, REG_A));
        clock.now = Instant.parse("2026-11-29T21:05:07.999756Z");
        assertEquals(A_UIP | DEFAULT_A, read(rtc, REG_A));
        clock.now = Instant.parse("2026-11-29T21:05:07.999999999Z");
        assertEquals(A_UIP | DEFAULT_A, read(rtc, REG_A));
        clock.now = Instant.parse("2026-11-29T21:05:08Z");
        assertEquals(DEFAULT_A, read(rtc, REG_A));
        clock.now = Instant.parse("2026-11-29T21:05:08.9999Z");
        write(rtc, REG_B, B_SET | B_24H);
        assertEquals(DEFAULT_A, read(rtc, REG_A), "no updates while SET");
    }

    @Test
    void registerAKeepsDividerAndRateButNotUip() {
        write(rtc, REG_A, 0xff);
        assertEquals(0x7f, read(rtc, REG_A));
        assertEquals(D_VRT, read(rtc, REG_D));
        write(rtc, REG_D, 0);
        assertEquals(D_VRT, read(rtc, REG_D));
    }

    @Test
    void memoryBytesFor256MiB() {
        assertEquals(0x80, read(rtc, 0x15));
        assertEquals(0x02, read(rtc, 0x16), "640 KiB base memory");
        assertEquals(0xff, read(rtc, 0x17));
        assertEquals(0xff, read(rtc, 0x18), "255 MiB in KiB, capped at 0xffff");
        assertEquals(0xff, read(rtc, 0x30));
        assertEquals(0xff, read(rtc, 0x31));
        assertEquals(0x00, read(rtc, 0x34));
        assertEquals(0x0f, read(rtc, 0x35), "240 MiB above 16 MiB = 0x0f00 x 64 KiB");
        assertEquals(0, read(rtc, 0x5b));
        assertEquals(0, read(rtc, 0x5c));
        assertEquals(0, read(rtc, 0x5d));
    }

    @Test
    void memoryBytesFor6GiBSplitAroundTheHole() {
        CmosRtc big = new CmosRtc(clock, 3 * GIB, 3 * GIB);
        assertEquals(0xffff, read(big, 0x17) | read(big, 0x18) << 8);
        assertEquals(0xbf00, read(big, 0x34) | read(big, 0x35) << 8, "(3 GiB - 16 MiB) / 64 KiB");
        int high = read(big, 0x5b) | read(big, 0x5c) << 8 | read(big, 0x5d) << 16;
        assertEquals(0xc000, high, "3 GiB / 64 KiB");
    }

    @Test
    void memoryBytesForSmallAndHugeGuests() {
        CmosRtc small = new CmosRtc(clock, 32 * MIB, 0);
        assertEquals(31 * 1024, read(small, 0x17) | read(small, 0x18) << 8);
        assertEquals(0x0100, read(small, 0x34) | read(small, 0x35) << 8);
        CmosRtc tiny = new CmosRtc(clock, 512 * 1024, 0);
        assertEquals(0, read(tiny, 0x17) | read(tiny, 0x18) << 8);
        assertEquals(0, read(tiny, 0x34) | read(tiny, 0x35) << 8);
        CmosRtc huge = new CmosRtc(clock, 4 * GIB, 4096 * GIB);
        assertEquals(0xff00, read(huge, 0x34) | read(huge, 0x35) << 8, "(4 GiB - 16 MiB) / 64 KiB");
        assertEquals(0xffffff, read(huge, 0x5b) | read(huge, 0x5c) << 8 | read(huge, 0x5d) << 16);
    }

    @Test
    void constructorRejectsImpossibleSizes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new CmosRtc(clock, 5 * GIB, 0));
        assertTrue(e.getMessage().contains("below 4 GiB"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new CmosRtc(clock, 0, -1));
    }

    @Test
    void guestSetsTheTimeWithSetAndTheClockRunsOnFromThere() {
        clock.now = Instant.parse("2026-01-31T10:00:00.5Z");
        write(rtc, REG_B, B_SET | B_24H);
        // Linux's mc146818_set_time order: year, month, day, hours, minutes, seconds. Month 2
        // with day 31 still pending is an invalid date only until the day is written.
        write(rtc, YEAR, 0x28);
        write(rtc, MONTH, 0x02);
        write(rtc, DAY_OF_MONTH, 0x29);
        write(rtc, HOURS, 0x23);
        write(rtc, MINUTES, 0x59);
        write(rtc, SECONDS, 0x58);
        clock.advance(Duration.ofSeconds(5)); // frozen: no effect
        assertEquals(0x58, read(rtc, SECONDS));
        write(rtc, REG_B, B_24H);
        assertEquals(0x58, read(rtc, SECONDS));
        clock.advance(Duration.ofSeconds(3));
        assertEquals(0x01, read(rtc, SECONDS));
        assertEquals(0x00, read(rtc, HOURS));
        assertEquals(0x01, read(rtc, DAY_OF_MONTH));
        assertEquals(0x03, read(rtc, MONTH), "2028 is a leap year: Feb 29 + 1 day");
        assertEquals(0x28, read(rtc, YEAR));
        assertEquals(0, rtc.ignoredWrites());
    }

    @Test
    void guestWritesWithoutSetApplyAtOnce() {
        write(rtc, MINUTES, 0x42);
        assertEquals(0x42, read(rtc, MINUTES));
        write(rtc, CENTURY, 0x19);
        assertEquals(0x19, read(rtc, CENTURY));
        assertEquals(0x26, read(rtc, YEAR));
        clock.advance(Duration.ofMinutes(1));
        assertEquals(0x43, read(rtc, MINUTES));
    }

    @Test
    void undecodableWritesAreIgnoredAndCounted() {
        write(rtc, SECONDS, 0x5a); // not BCD
        write(rtc, MONTH, 0x13); // month 13
        write(rtc, HOURS, 0x24);
        assertEquals(3, rtc.ignoredWrites());
        assertEquals(0x07, read(rtc, SECONDS));
        // An impossible date assembled under SET is rejected as a whole when SET is cleared.
        write(rtc, REG_B, B_SET | B_24H);
        write(rtc, MONTH, 0x02);
        write(rtc, DAY_OF_MONTH, 0x30);
        write(rtc, REG_B, B_24H);
        assertEquals(4, rtc.ignoredWrites());
        assertEquals(0x29, read(rtc, DAY_OF_MONTH));
        assertEquals(0x11, read(rtc, MONTH));
    }

    @Test
    void setClearsUie() {
        write(rtc, REG_B, B_UIE | B_24H);
        write(rtc, REG_B, B_SET | B_UIE | B_24H);
        assertEquals(B_SET | B_24H, read(rtc, REG_B));
    }

    @Test
    void nmiMaskBitIsNotPartOfTheIndexAndNvramIsPlainStorage() {
        write(rtc, 0x40, 0x5a);
        assertEquals(0x5a, read(rtc, 0x80 | 0x40));
        for (int reg = 0x0e; reg < 0x80; reg++) {
            if (reg == CENTURY) {
                continue;
            }
            write(rtc, reg, reg ^ 0xa5);
            assertEquals(reg ^ 0xa5, read(rtc, reg), "register 0x" + Integer.toHexString(reg));
        }
        byte[] b = new byte[1];
        rtc.read(0, b);
        assertEquals((byte) 0xff, b[0], "index port reads float");
    }
}
