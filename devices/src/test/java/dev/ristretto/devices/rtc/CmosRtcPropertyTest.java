package dev.ristretto.devices.rtc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Random index/data traffic with the host clock jumping around (including backwards). Nothing
 * throws, register D stays valid, and whatever the guest wrote, the seconds and month registers
 * decode in the mode register B currently selects to an in-range value.
 */
class CmosRtcPropertyTest {

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 0x70, 146818})
    void randomTrafficNeverBreaksTheClock(long seed) {
        Random rnd = new Random(seed);
        CmosRtcTest.ManualClock clock = new CmosRtcTest.ManualClock("2026-11-29T21:05:07.250Z");
        CmosRtc rtc = new CmosRtc(clock, 1L << 30, 1L << 32);
        byte[] one = new byte[1];
        for (int step = 0; step < 20_000; step++) {
            // Favour the clock registers and B so SET, DM and 12/24 h flip often.
            int reg = rnd.nextInt(3) == 0 ? rnd.nextInt(256) : rnd.nextInt(0x0e);
            rtc.write(0, new byte[] {(byte) reg});
            if (rnd.nextBoolean()) {
                rtc.write(1, new byte[] {(byte) rnd.nextInt(256)});
            } else {
                rtc.read(1, one);
            }
            switch (rnd.nextInt(4)) {
                case 0 -> clock.advance(Duration.ofNanos(rnd.nextLong(2_000_000_000L)));
                case 1 -> clock.advance(Duration.ofSeconds(rnd.nextInt(200_000) - 100_000));
                default -> { }
            }
            String where = "seed " + seed + " step " + step;
            assertEquals(CmosRtc.D_VRT, read(rtc, CmosRtc.REG_D), where);
            boolean binary = (read(rtc, CmosRtc.REG_B) & CmosRtc.B_DM_BINARY) != 0;
            int sec = decode(read(rtc, CmosRtc.SECONDS), binary);
            int month = decode(read(rtc, CmosRtc.MONTH), binary);
            assertTrue(sec >= 0 && sec <= 59, where + " seconds " + sec);
            assertTrue(month >= 1 && month <= 12, where + " month " + month);
        }
    }

    private static int read(CmosRtc rtc, int reg) {
        rtc.write(0, new byte[] {(byte) reg});
        byte[] b = new byte[1];
        rtc.read(1, b);
        return b[0] & 0xff;
    }

    private static int decode(int raw, boolean binary) {
        if (binary) {
            return raw;
        }
        int hi = raw >>> 4;
        int lo = raw & 0x0f;
        return hi > 9 || lo > 9 ? -1 : hi * 10 + lo;
    }
}
