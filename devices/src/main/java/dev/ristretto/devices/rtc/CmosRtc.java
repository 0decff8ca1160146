package dev.ristretto.devices.rtc;

import dev.ristretto.vmm.device.BusDevice;
import java.time.Clock;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Objects;

/**
 * The PC's CMOS real-time clock and NVRAM (Motorola MC146818A and its chipset descendants) at
 * ports 0x70 (index; bit 7 is the NMI mask and not part of the index) and 0x71 (data).
 *
 * <p>Section references are to the MC146818A datasheet (Motorola): "Address Map" (Figure 2),
 * "Time, Calendar and Alarm Locations" (Table 2 for BCD and binary ranges), "Register A/B/C/D",
 * "Update Cycle".
 *
 * <h2>Time</h2>
 * The chip keeps no time of its own. Registers 0x00–0x09 and the century byte 0x32 are computed
 * from an injected {@link Clock} plus a whole-second offset that guest writes change, so a guest
 * that sets the clock keeps its setting while the host clock runs on. The wall time is the clock's
 * zone (PCs running Linux keep UTC in the RTC; pass {@link Clock#systemUTC()} for that). Day of
 * week is derived from the date; a guest write to 0x06 is accepted and has no effect.
 *
 * <p>While register B's SET bit is 1 the clock is frozen (no updates, UIP clear, "Register B"):
 * the guest's writes collect in a field buffer and become the new time when SET is cleared, so the
 * order in which a guest writes year, month and day cannot produce a transient invalid date. A
 * write that does not decode (not BCD in BCD mode, out of range, or an impossible date) is ignored
 * and counted ({@link #ignoredWrites()}).
 *
 * <h2>Update-in-progress</h2>
 * "Update Cycle": UIP (register A bit 7) goes high 244 µs before the registers change and stays
 * high through the update. We model the update as instantaneous at each second boundary and set
 * UIP during the last 244 µs of every host second, so code that waits for UIP to fall and then
 * reads the time (Linux's mc146818_get_time) sees a consistent second.
 *
 * <h2>Not modelled</h2>
 * The divider (register A bits 6–4) and rate (bits 3–0) are stored and read back; the divider
 * does not stop the clock. Register C's flags are derived from the clock when it is read, but the
 * device raises no IRQ 8: it has no timer of its own (see the report for the machine).
 *
 * <p>Memory-size bytes follow the QEMU/SeaBIOS CMOS convention and are plain NVRAM after
 * construction (a guest may overwrite them, as on a real board).
 */
public final class CmosRtc implements BusDevice {

    public static final int INDEX_PORT = 0x70;
    public static final int PORT_COUNT = 2;

    // Address map (MC146818A Figure 2) plus the PC's century byte (IBM AT convention).
    static final int SECONDS = 0x00;
    static final int SECONDS_ALARM = 0x01;
    static final int MINUTES = 0x02;
    static final int MINUTES_ALARM = 0x03;
    static final int HOURS = 0x04;
    static final int HOURS_ALARM = 0x05;
    static final int DAY_OF_WEEK = 0x06;
    static final int DAY_OF_MONTH = 0x07;
    static final int MONTH = 0x08;
    static final int YEAR = 0x09;
    static final int REG_A = 0x0a;
    static final int REG_B = 0x0b;
    static final int REG_C = 0x0c;
    static final int REG_D = 0x0d;
    static final int CENTURY = 0x32;

    static final int A_UIP = 0x80;
    /** Power-on register A: 32.768 kHz time base (DV = 010), 1024 Hz periodic rate (RS = 0110). */
    static final int DEFAULT_A = 0x26;
    static final int B_SET = 0x80;
    static final int B_PIE = 0x40;
    static final int B_AIE = 0x20;
    static final int B_UIE = 0x10;
    static final int B_DM_BINARY = 0x04;
    static final int B_24H = 0x02;
    /** Default register B as the brief and PC firmware leave it: 24-hour mode, BCD. */
    static final int DEFAULT_B = B_24H;
    static final int C_IRQF = 0x80;
    static final int C_PF = 0x40;
    static final int C_AF = 0x20;
    static final int C_UF = 0x10;
    /** Register D: VRT (valid RAM and time) — the battery is fine. */
    static final int D_VRT = 0x80;

    /** UIP is high for this long before each update ("Update Cycle", t_BUC = 244 µs). */
    static final long UIP_NANOS = 244_000;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;
    private static final long GIB = 1024 * MIB;

    private static final int F_SEC = 0;
    private static final int F_MIN = 1;
    private static final int F_HOUR = 2;
    private static final int F_DAY = 3;
    private static final int F_MONTH = 4;
    private static final int F_YEAR = 5; // full year, century included

    private final Object lock = new Object();
    private final Clock clock;
    private final byte[] nvram = new byte[128];
    private int index;
    private int regA = DEFAULT_A;
    private int regB = DEFAULT_B;
    /** Guest time minus host time, in whole seconds, so the guest ticks with the host. */
    private long offsetSeconds;
    /** Time fields collected while SET is 1 (binary, full year), else null. */
    private int[] frozen;
    /** Host-clock instant of the last register C read: flags report events since then. */
    private Instant lastFlagsRead;
    private long ignoredWrites;

    /**
     * An RTC whose NVRAM reports {@code ramBelow4g} bytes of RAM below 4 GiB (including the
     * first MiB) and {@code ramAbove4g} bytes above it.
     */
    public CmosRtc(Clock clock, long ramBelow4g, long ramAbove4g) {
        this.clock = Objects.requireNonNull(clock, "clock");
        if (ramBelow4g < 0 || ramBelow4g > 4 * GIB) {
            throw new IllegalArgumentException("CMOS RTC: RAM below 4 GiB of " + ramBelow4g
                    + " bytes is outside 0..4 GiB; pass the part of guest RAM that lies below 4 GiB");
        }
        if (ramAbove4g < 0) {
            throw new IllegalArgumentException("CMOS RTC: RAM above 4 GiB of " + ramAbove4g
                    + " bytes is negative; pass 0 when all RAM lies below 4 GiB");
        }
        this.lastFlagsRead = clock.instant();
        writeMemorySizes(ramBelow4g, ramAbove4g);
    }

    /**
     * QEMU's pc_cmos_init / SeaBIOS convention: 0x15/0x16 base memory in KiB (always 640);
     * 0x17/0x18 and 0x30/0x31 memory from 1 MiB up in KiB, capped at 0xffff (so they stop at
     * 64 MiB); 0x34/0x35 memory from 16 MiB up to 4 GiB in 64 KiB units; 0x5b–0x5d memory above
     * 4 GiB in 64 KiB units (24 bits, capped: 1 TiB - 64 KiB).
     */
    private void writeMemorySizes(long below, long above) {
        put16(0x15, 640);
        long extended = Math.clamp((below - MIB) / KIB, 0, 0xffff);
        put16(0x17, (int) extended);
        put16(0x30, (int) extended);
        long above16m = Math.clamp((below - 16 * MIB) / (64 * KIB), 0, 0xffff);
        put16(0x34, (int) above16m);
        long high = Math.min(above / (64 * KIB), 0xff_ffff);
        nvram[0x5b] = (byte) high;
        nvram[0x5c] = (byte) (high >>> 8);
        nvram[0x5d] = (byte) (high >>> 16);
    }

    private void put16(int at, int value) {
        nvram[at] = (byte) value;
        nvram[at + 1] = (byte) (value >>> 8);
    }

    /** Guest writes to time, date or register values that did not decode and were dropped. */
    public long ignoredWrites() {
        synchronized (lock) {
            return ignoredWrites;
        }
    }

    // ---------------------------------------------------------------------------------------
    // Bus side: offset 0 is the index port, offset 1 the data port.

    @Override
    public void read(long offset, byte[] data) {
        synchronized (lock) {
            for (int i = 0; i < data.length; i++) {
                long port = offset + i;
                // The index port is write-only; chipsets float the bus on reads.
                data[i] = (byte) (port == 1 ? readRegister(index) : 0xff);
            }
        }
    }

    @Override
    public void write(long offset, byte[] data) {
        synchronized (lock) {
            for (int i = 0; i < data.length; i++) {
                long port = offset + i;
                int value = data[i] & 0xff;
                if (port == 0) {
                    index = value & 0x7f; // bit 7 masks NMI on the PC; it is not an address bit
                } else if (port == 1) {
                    writeRegister(index, value);
                }
            }
        }
    }

    private int readRegister(int reg) {
        return switch (reg) {
            case SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR, CENTURY ->
                    encodeField(reg, currentFields());
            case REG_A -> regA | (updateInProgress() ? A_UIP : 0);
            case REG_B -> regB;
            case REG_C -> readFlags();
            case REG_D -> D_VRT;
            default -> nvram[reg] & 0xff;
        };
    }

    private void writeRegister(int reg, int value) {
        switch (reg) {
            case SECONDS, MINUTES, HOURS, DAY_OF_MONTH, MONTH, YEAR, CENTURY -> writeTime(reg, value);
            case DAY_OF_WEEK -> { } // derived from the date (class comment)
            case REG_A -> regA = value & ~A_UIP; // UIP is read-only
            case REG_B -> writeRegB(value);
            case REG_C, REG_D -> { } // read-only
            default -> nvram[reg] = (byte) value; // alarms and NVRAM: plain storage
        }
    }

    // ---------------------------------------------------------------------------------------
    // Time

    private Instant hostNow() {
        return clock.instant();
    }

    private LocalDateTime guestTime(Instant hostInstant) {
        Instant shifted = hostInstant.truncatedTo(ChronoUnit.SECONDS).plusSeconds(offsetSeconds);
        return LocalDateTime.ofInstant(shifted, clock.getZone());
    }

    private static int[] fieldsOf(LocalDateTime t) {
        return new int[] {t.getSecond(), t.getMinute(), t.getHour(), t.getDayOfMonth(),
            t.getMonthValue(), t.getYear()};
    }

    private int[] currentFields() {
        return frozen != null ? frozen : fieldsOf(guestTime(hostNow()));
    }

    private boolean binaryMode() {
        return (regB & B_DM_BINARY) != 0;
    }

    private int encode(int value) {
        return binaryMode() ? value : ((value / 10) << 4) | (value % 10);
    }

    /** Decodes a BCD or binary byte per register B, or returns -1 if it is not valid BCD. */
    private int decode(int raw) {
        if (binaryMode()) {
            return raw;
        }
        int hi = raw >>> 4;
        int lo = raw & 0x0f;
        return hi > 9 || lo > 9 ? -1 : hi * 10 + lo;
    }

    private int encodeField(int reg, int[] f) {
        return switch (reg) {
            case SECONDS -> encode(f[F_SEC]);
            case MINUTES -> encode(f[F_MIN]);
            case HOURS -> encodeHour(f[F_HOUR]);
            case DAY_OF_WEEK -> encode(dayOfWeek(f));
            case DAY_OF_MONTH -> encode(f[F_DAY]);
            case MONTH -> encode(f[F_MONTH]);
            case YEAR -> encode(Math.floorMod(f[F_YEAR], 100));
            case CENTURY -> encode(Math.floorDiv(f[F_YEAR], 100));
            default -> throw new AssertionError(reg);
        };
    }

    /** Table 2: in 12-hour mode hours run 1–12 with bit 7 set for PM. */
    private int encodeHour(int hour24) {
        if ((regB & B_24H) != 0) {
            return encode(hour24);
        }
        int h12 = hour24 % 12 == 0 ? 12 : hour24 % 12;
        return encode(h12) | (hour24 >= 12 ? 0x80 : 0);
    }

    /** Day of week 1–7 with Sunday = 1 (Table 2), or 0 when the fields are no date at all. */
    private static int dayOfWeek(int[] f) {
        try {
            return LocalDateTime.of(f[F_YEAR], f[F_MONTH], f[F_DAY], 0, 0).getDayOfWeek().getValue() % 7 + 1;
        } catch (DateTimeException e) {
            return 0; // a half-set date while SET is 1
        }
    }

    /** Decodes an hour byte in the current 12/24-hour and BCD/binary mode; -1 if invalid. */
    private int decodeHour(int raw) {
        if ((regB & B_24H) != 0) {
            int h = decode(raw);
            return h <= 23 ? h : -1;
        }
        int h = decode(raw & 0x7f);
        if (h < 1 || h > 12) {
            return -1;
        }
        boolean pm = (raw & 0x80) != 0;
        return h % 12 + (pm ? 12 : 0);
    }

    private void writeTime(int reg, int raw) {
        int v = reg == HOURS ? decodeHour(raw) : decode(raw);
        int[] f = currentFields().clone();
        boolean ok = v >= 0;
        if (ok) {
            switch (reg) {
                case SECONDS -> { ok = v <= 59; f[F_SEC] = v; }
                case MINUTES -> { ok = v <= 59; f[F_MIN] = v; }
                case HOURS -> f[F_HOUR] = v;
                case DAY_OF_MONTH -> { ok = v >= 1 && v <= 31; f[F_DAY] = v; }
                case MONTH -> { ok = v >= 1 && v <= 12; f[F_MONTH] = v; }
                case YEAR -> { ok = v <= 99; f[F_YEAR] = Math.floorDiv(f[F_YEAR], 100) * 100 + v; }
                case CENTURY -> { ok = v <= 99; f[F_YEAR] = v * 100 + Math.floorMod(f[F_YEAR], 100); }
                default -> throw new AssertionError(reg);
            }
        }
        if (!ok) {
            ignoredWrites++;
            return;
        }
        if (frozen != null) {
            frozen = f; // checked as a whole when SET is cleared
        } else if (!setTime(f)) {
            ignoredWrites++;
        }
    }

    /** Makes {@code f} the guest's current time; false if it is no valid date and time. */
    private boolean setTime(int[] f) {
        LocalDateTime t;
        try {
            t = LocalDateTime.of(f[F_YEAR], f[F_MONTH], f[F_DAY], f[F_HOUR], f[F_MIN], f[F_SEC]);
        } catch (DateTimeException e) {
            return false;
        }
        Instant host = hostNow().truncatedTo(ChronoUnit.SECONDS);
        ZoneOffset zoneOffset = clock.getZone().getRules().getOffset(t);
        offsetSeconds = Duration.between(host, t.toInstant(zoneOffset)).getSeconds();
        return true;
    }

    private void writeRegB(int value) {
        int old = regB;
        regB = value;
        if ((old & B_SET) == 0 && (value & B_SET) != 0) {
            // Register B: SET stops updates so the time can be written; it also clears UIE.
            frozen = fieldsOf(guestTime(hostNow()));
            regB &= ~B_UIE;
        } else if ((old & B_SET) != 0 && (value & B_SET) == 0) {
            int[] f = frozen;
            frozen = null;
            if (!setTime(f)) {
                ignoredWrites++;
            }
        }
    }

    private boolean updateInProgress() {
        if ((regB & B_SET) != 0) {
            return false; // updates are inhibited
        }
        return hostNow().getNano() >= NANOS_PER_SECOND - UIP_NANOS;
    }

    // ---------------------------------------------------------------------------------------
    // Register C: flags for what happened since the last read; reading clears them.

    private int readFlags() {
        Instant now = hostNow();
        Instant last = lastFlagsRead;
        lastFlagsRead = now;
        if (!now.isAfter(last)) {
            return 0;
        }
        int flags = 0;
        long lastSecond = last.getEpochSecond();
        long nowSecond = now.getEpochSecond();
        if (frozen == null && nowSecond > lastSecond) {
            flags |= C_UF; // an update cycle ended since the last read
            if (alarmMatchedBetween(lastSecond, nowSecond)) {
                flags |= C_AF;
            }
        }
        long period = periodicNanos();
        if (period > 0 && nanosSinceEpoch(now) / period > nanosSinceEpoch(last) / period) {
            flags |= C_PF;
        }
        boolean irq = ((flags & C_PF) != 0 && (regB & B_PIE) != 0)
                || ((flags & C_AF) != 0 && (regB & B_AIE) != 0)
                || ((flags & C_UF) != 0 && (regB & B_UIE) != 0);
        return flags | (irq ? C_IRQF : 0);
    }

    private static long nanosSinceEpoch(Instant t) {
        return t.getEpochSecond() * NANOS_PER_SECOND + t.getNano();
    }

    /**
     * The periodic interrupt period selected by register A's rate bits with the 32.768 kHz time
     * base ("Register A", periodic interrupt rate table): RS = 1 and 2 give 256 and 128 Hz, RS = 3
     * to 15 give 32768 >> (RS - 1) Hz; RS = 0 disables it.
     */
    private long periodicNanos() {
        int rs = regA & 0x0f;
        if (rs == 0) {
            return 0;
        }
        long hz = rs <= 2 ? 256 >> (rs - 1) : 32768 >> (rs - 1);
        return NANOS_PER_SECOND / hz;
    }

    /**
     * Whether some second in (lastSecond, nowSecond] matches the alarm registers, where a value
     * with bits 7:6 both set is "don't care" ("Time, Calendar and Alarm Locations"). The alarm is
     * a time of day, so a gap of a day or more always contains a match.
     */
    private boolean alarmMatchedBetween(long lastSecond, long nowSecond) {
        if (nowSecond - lastSecond >= 24 * 60 * 60) {
            return true;
        }
        int secAlarm = nvram[SECONDS_ALARM] & 0xff;
        int minAlarm = nvram[MINUTES_ALARM] & 0xff;
        int hourAlarm = nvram[HOURS_ALARM] & 0xff;
        for (long s = lastSecond + 1; s <= nowSecond; s++) {
            int[] f = fieldsOf(guestTime(Instant.ofEpochSecond(s)));
            if (alarmField(secAlarm, encode(f[F_SEC]))
                    && alarmField(minAlarm, encode(f[F_MIN]))
                    && alarmField(hourAlarm, encodeHour(f[F_HOUR]))) {
                return true;
            }
        }
        return false;
    }

    private static boolean alarmField(int alarm, int value) {
        return (alarm & 0xc0) == 0xc0 || alarm == value;
    }
}
