package dev.ristretto.vmm.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.memory.RamRange;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

class HostMemoryTest {

    @Test
    void mapsEachRangeAtItsGuestAddress() {
        try (HostMemory hm = HostMemory.mapAnonymous(List.of(
                new RamRange(GuestAddress.of(0), 1 << 20),
                new RamRange(GuestAddress.of(0x1_0000_0000L), 2 << 20)))) {
            GuestMemory m = hm.guestMemory();
            assertEquals(3 << 20, m.totalSize());
            assertEquals(0, m.readLong(GuestAddress.of(0x1_001f_fff8L)), "fresh anonymous memory reads zero");
            m.writeLong(GuestAddress.of(0x1_0000_0008L), 0x1122_3344_5566_7788L);
            assertEquals(0x1122_3344_5566_7788L, m.readLong(GuestAddress.of(0x1_0000_0008L)));
            for (var r : m.regions()) {
                assertEquals(0, r.segment().address() % HostMemory.PAGE_SIZE, "page-aligned for KVM");
            }
        }
    }

    @Test
    void closeUnmapsAndInvalidatesEverySegment() {
        HostMemory hm = HostMemory.mapAnonymous(List.of(new RamRange(GuestAddress.of(0), 1 << 20)));
        MemorySegment seg = hm.guestMemory().regions().get(0).segment();
        hm.close();
        assertThrows(IllegalStateException.class, () -> hm.guestMemory().readByte(GuestAddress.of(0)));
        assertThrows(IllegalStateException.class, () -> seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
        hm.close(); // idempotent
    }

    @Test
    void anImpossibleSizeFailsWithTheSizeAndTheFix() {
        // 127 TiB: more than the 128 TiB user address space can hold next to the JVM.
        long size = 127L << 40;
        HostMemoryException e = assertThrows(HostMemoryException.class,
                () -> HostMemory.mapAnonymous(List.of(new RamRange(GuestAddress.of(0), size))));
        assertTrue(e.getMessage().startsWith("cannot map 133169152 MiB of guest RAM at 0x0"), e.getMessage());
        assertTrue(e.getMessage().contains("give the guest less memory"), e.getMessage());
    }

    @Test
    void unalignedRangesAreRejected() {
        assertThrows(IllegalArgumentException.class,
                () -> HostMemory.mapAnonymous(List.of(new RamRange(GuestAddress.of(0x800), 4096))));
        assertThrows(IllegalArgumentException.class,
                () -> HostMemory.mapAnonymous(List.of(new RamRange(GuestAddress.of(0), 4097))));
        assertThrows(IllegalArgumentException.class, () -> new RamRange(GuestAddress.of(0), 0));
        assertThrows(IllegalArgumentException.class, () -> HostMemory.mapAnonymous(List.of()));
    }
}
