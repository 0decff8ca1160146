package dev.ristretto.vmm.memory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class GuestMemoryTest {
    private final Arena arena = Arena.ofAuto();

    private GuestMemory twoRegions() {
        // 64 KiB at 0 and 64 KiB at 1 MiB, a hole between, like RAM split around the MMIO hole.
        return GuestMemory.of(List.of(
                new GuestRegion(GuestAddress.of(0x10_0000), arena.allocate(0x1_0000)),
                new GuestRegion(GuestAddress.of(0), arena.allocate(0x1_0000))));
    }

    @Test
    void littleEndianAccessesRoundTrip() {
        GuestMemory mem = twoRegions();
        mem.writeLong(GuestAddress.of(0x100), 0x1122334455667788L);
        assertEquals((byte) 0x88, mem.readByte(GuestAddress.of(0x100)));
        assertEquals(0x55667788, mem.readInt(GuestAddress.of(0x100)));
        assertEquals((short) 0x3344, mem.readShort(GuestAddress.of(0x104)));
        mem.write(GuestAddress.of(0x10_0010), new byte[] {1, 2, 3});
        assertArrayEquals(new byte[] {1, 2, 3}, mem.read(GuestAddress.of(0x10_0010), 3));
    }

    @Test
    void accessesOutsideRamOrAcrossTheHoleAreRejected() {
        GuestMemory mem = twoRegions();
        assertThrows(GuestMemoryException.class, () -> mem.readInt(GuestAddress.of(0x1_0000)));
        assertThrows(GuestMemoryException.class, () -> mem.readInt(GuestAddress.of(0xfffe)));
        assertThrows(GuestMemoryException.class, () -> mem.readLong(GuestAddress.of(-4)));
        assertThrows(GuestMemoryException.class, () -> mem.slice(GuestAddress.of(0), -1));
        assertThrows(GuestMemoryException.class, () -> mem.slice(GuestAddress.of(0x10_0000), Long.MAX_VALUE));
        assertTrue(mem.contains(GuestAddress.of(0xfffc), 4));
        assertFalse(mem.contains(GuestAddress.of(0xfffd), 4));
        assertEquals(0x2_0000, mem.totalSize());
        assertEquals(GuestAddress.of(0x11_0000), mem.end());
    }

    @Test
    void overlappingRegionsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> GuestMemory.of(List.of(
                new GuestRegion(GuestAddress.of(0), arena.allocate(0x2000)),
                new GuestRegion(GuestAddress.of(0x1000), arena.allocate(0x2000)))));
        assertThrows(IllegalArgumentException.class, () -> GuestMemory.of(List.of()));
    }

    @Test
    void containsAgreesWithAModelForRandomRanges() {
        GuestMemory mem = twoRegions();
        Random rnd = new Random(42);
        for (int i = 0; i < 20_000; i++) {
            long addr = rnd.nextInt(0x12_0000) - 0x100;
            long len = rnd.nextInt(0x2_0000);
            boolean inLow = addr >= 0 && addr + len <= 0x1_0000;
            boolean inHigh = addr >= 0x10_0000 && addr + len <= 0x11_0000;
            assertEquals(inLow || inHigh, mem.contains(GuestAddress.of(addr), len), addr + "+" + len);
        }
    }

    @Test
    void addressArithmeticIsChecked() {
        assertThrows(ArithmeticException.class, () -> GuestAddress.of(-16).checkedAdd(32));
        assertThrows(ArithmeticException.class, () -> GuestAddress.of(0).checkedAdd(-1));
        assertEquals(GuestAddress.of(0x2000), GuestAddress.of(0x1001).alignUp(0x1000));
        assertEquals(GuestAddress.of(0x1000), GuestAddress.of(0x1000).alignUp(0x1000));
        assertEquals(0x10, GuestAddress.of(0x1010).offsetFrom(GuestAddress.of(0x1000)));
        assertThrows(ArithmeticException.class, () -> GuestAddress.of(0).offsetFrom(GuestAddress.of(1)));
        assertTrue(GuestAddress.of(-1).compareTo(GuestAddress.of(1)) > 0, "addresses compare unsigned");
    }
}
