package dev.ristretto.firmware;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ristretto.firmware.E820Entry.Type;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.RamRange;
import java.util.List;
import org.junit.jupiter.api.Test;

class MemoryLayoutTest {

    private static E820Entry e(long start, long size, Type type) {
        return new E820Entry(GuestAddress.of(start), size, type);
    }

    @Test
    void smallGuestHasOneRangeAndThreeE820Entries() {
        MemoryLayout m = MemoryLayout.forRam(256 * Layout.MIB);
        assertEquals(List.of(new RamRange(GuestAddress.of(0), 0x1000_0000L)), m.ramRanges());
        assertEquals(List.of(
                e(0, 0x9fc00, Type.RAM),
                e(0x9fc00, 0x60400, Type.RESERVED),
                e(0x100000, 0x0ff0_0000L, Type.RAM)), m.e820());
        assertEquals(GuestAddress.of(0x1000_0000L), m.lowRamEnd());
        assertEquals(GuestAddress.of(0x1000_0000L), m.ramEnd());
    }

    @Test
    void sixGiBGuestIsSplitAroundTheMmioHole() {
        MemoryLayout m = MemoryLayout.forRam(6 * Layout.GIB);
        assertEquals(List.of(
                new RamRange(GuestAddress.of(0), 0xc000_0000L),
                new RamRange(GuestAddress.of(0x1_0000_0000L), 0xc000_0000L)), m.ramRanges());
        assertEquals(List.of(
                e(0, 0x9fc00, Type.RAM),
                e(0x9fc00, 0x60400, Type.RESERVED),
                e(0x100000, 0xbff0_0000L, Type.RAM),
                e(0x1_0000_0000L, 0xc000_0000L, Type.RAM)), m.e820());
        assertEquals(GuestAddress.of(0xc000_0000L), m.lowRamEnd());
        assertEquals(GuestAddress.of(0x1_c000_0000L), m.ramEnd());
    }

    @Test
    void exactlyThreeGiBNeedsNoHighRange() {
        MemoryLayout m = MemoryLayout.forRam(3 * Layout.GIB);
        assertEquals(1, m.ramRanges().size());
        assertEquals(3, m.e820().size());
        MemoryLayout plusPage = MemoryLayout.forRam(3 * Layout.GIB + 4096);
        assertEquals(new RamRange(GuestAddress.of(0x1_0000_0000L), 4096), plusPage.ramRanges().get(1));
    }

    @Test
    void rejectsTooSmallAndUnalignedSizes() {
        assertEquals("guest memory of 16 MiB is too small: Ristretto needs at least 32 MiB (raise --memory)",
                assertThrows(BootSetupException.class, () -> MemoryLayout.forRam(16 * Layout.MIB)).getMessage());
        assertEquals("guest memory of 33554433 bytes is not a multiple of 4 KiB (the x86 page size); give --memory in whole MiB",
                assertThrows(BootSetupException.class, () -> MemoryLayout.forRam(32 * Layout.MIB + 1)).getMessage());
        assertThrows(BootSetupException.class, () -> MemoryLayout.forRam(-4096));
        assertEquals(32 * Layout.MIB, MemoryLayout.forRam(32 * Layout.MIB).ramBytes());
    }

    @Test
    void rejectsSizesBeyondTheAddressSpace() {
        assertEquals("guest memory of 1025 GiB is too large: Ristretto supports at most 1024 GiB (lower --memory)",
                assertThrows(BootSetupException.class, () -> MemoryLayout.forRam(1025 * Layout.GIB)).getMessage());
        assertThrows(BootSetupException.class, () -> MemoryLayout.forRam(Long.MAX_VALUE & ~0xfffL));
        assertEquals(2, MemoryLayout.forRam(Layout.MAX_RAM).ramRanges().size());
    }
}
