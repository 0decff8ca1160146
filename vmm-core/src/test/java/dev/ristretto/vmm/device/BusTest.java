package dev.ristretto.vmm.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BusTest {

    /** Records every access as "r|w offset size". */
    static final class Recorder implements BusDevice {
        final List<String> log = new ArrayList<>();

        @Override
        public void read(long offset, byte[] data) {
            log.add("r " + offset + " " + data.length);
            data[0] = (byte) offset;
        }

        @Override
        public void write(long offset, byte[] data) {
            log.add("w " + offset + " " + data.length);
        }
    }

    @Test
    void dispatchesOffsetsRelativeToTheRangeBase() {
        Recorder uart = new Recorder();
        Recorder rtc = new Recorder();
        Bus bus = Bus.builder("io").insert(0x70, 2, "rtc", rtc).insert(0x3f8, 8, "com1", uart).build();
        byte[] b = new byte[1];
        assertTrue(bus.read(0x3fd, b));
        assertEquals(5, b[0]);
        assertTrue(bus.write(0x71, new byte[2]));
        assertEquals(List.of("r 5 1"), uart.log);
        assertEquals(List.of("w 1 2"), rtc.log);
    }

    @Test
    void unclaimedAccessesReadAllOnesAndAreCounted() {
        Bus bus = Bus.builder("io").insert(0x3f8, 8, "com1", new Recorder()).build();
        byte[] b = new byte[4];
        assertFalse(bus.read(0x3f7, b));
        assertArrayEquals(new byte[] {-1, -1, -1, -1}, b);
        assertFalse(bus.write(0x400, b));
        assertEquals(1, bus.unclaimedReads());
        assertEquals(1, bus.unclaimedWrites());
    }

    @Test
    void overlapsAreRejectedWithBothNames() {
        Bus.Builder b = Bus.builder("io").insert(0x3f8, 8, "com1", new Recorder());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> b.insert(0x3ff, 1, "other", new Recorder()));
        assertTrue(e.getMessage().contains("com1") && e.getMessage().contains("other"), e.getMessage());
        b.insert(0x400, 1, "adjacent", new Recorder()); // touching is fine
    }

    @Test
    void highMmioAddressesCompareUnsigned() {
        Recorder dev = new Recorder();
        Bus bus = Bus.builder("mmio").insert(0xfee0_0000L, 0x1000, "low", new Recorder())
                .insert(0xffff_ffff_ffff_f000L, 0x1000, "top", dev).build();
        assertTrue(bus.read(0xffff_ffff_ffff_f010L, new byte[1]));
        assertEquals("r 16 1", dev.log.get(0));
        assertNull(bus.find(0x1000));
    }
}
