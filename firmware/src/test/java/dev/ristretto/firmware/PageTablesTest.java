package dev.ristretto.firmware;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ristretto.vmm.memory.GuestAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class PageTablesTest {
    private final ByteBuffer t = ByteBuffer.wrap(PageTables.identityMap4GiB(Layout.PML4)).order(ByteOrder.LITTLE_ENDIAN);

    @Test
    void pml4PointsAtThePdpt() {
        assertEquals(6 * 4096, t.capacity());
        assertEquals(0xa003L, t.getLong(0));
        for (int i = 1; i < 512; i++) {
            assertEquals(0L, t.getLong(i * 8), "PML4 entry " + i);
        }
    }

    @Test
    void pdptPointsAtFourPageDirectories() {
        assertEquals(0xb003L, t.getLong(0x1000));
        assertEquals(0xc003L, t.getLong(0x1008));
        assertEquals(0xd003L, t.getLong(0x1010));
        assertEquals(0xe003L, t.getLong(0x1018));
        assertEquals(0L, t.getLong(0x1020));
    }

    @Test
    void pageDirectoriesMapTwoMiBPagesOneToOne() {
        assertEquals(0x0000_0083L, t.getLong(0x2000)); // 0 -> 0
        assertEquals(0x0020_0083L, t.getLong(0x2008)); // 2 MiB
        assertEquals(0x3fe0_0083L, t.getLong(0x2ff8)); // last of the first GiB
        assertEquals(0x4000_0083L, t.getLong(0x3000)); // first of the second GiB
        assertEquals(0xfee0_0083L, t.getLong(0x2000 + (int) (0xfee0_0000L >>> 21) * 8)); // LAPIC page
        assertEquals(0xffe0_0083L, t.getLong(0x5ff8)); // last 2 MiB below 4 GiB
    }

    @Test
    void addressesFollowTheGivenBase() {
        ByteBuffer other = ByteBuffer.wrap(PageTables.identityMap4GiB(GuestAddress.of(0x10_0000))).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x10_1003L, other.getLong(0));
        assertEquals(0x10_2003L, other.getLong(0x1000));
        assertThrows(IllegalArgumentException.class, () -> PageTables.identityMap4GiB(GuestAddress.of(0x9008)));
    }

    @Test
    void layoutConstantsAgreeWithTheTableShape() {
        assertEquals(Layout.PML4.value() + 0x1000, Layout.PDPT.value());
        assertEquals(Layout.PML4.value() + 0x2000, Layout.PD.value());
    }
}
