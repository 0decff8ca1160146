package dev.ristretto.firmware.pvh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ristretto.firmware.E820Entry;
import dev.ristretto.firmware.Layout;
import dev.ristretto.firmware.MemoryLayout;
import dev.ristretto.vmm.memory.GuestAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Byte-exact checks against xen/include/public/arch-x86/hvm/start_info.h. */
class StartInfoTest {
    private static final GuestAddress BASE = GuestAddress.of(0x6000);
    private static final GuestAddress CMDLINE = GuestAddress.of(0x20000);

    private static ByteBuffer page(Optional<StartInfo.Module> module, List<E820Entry> map, Optional<GuestAddress> rsdp) {
        return ByteBuffer.wrap(StartInfo.page(BASE, CMDLINE, module, map, rsdp)).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void structSizesAndOffsetsMatchTheHeader() {
        assertEquals(56, StartInfo.SIZE);
        assertEquals(32, StartInfo.MODLIST_ENTRY_SIZE);
        assertEquals(24, StartInfo.MEMMAP_ENTRY_SIZE);
        // The tables must not overlap start_info or each other.
        assertEquals(0x40, StartInfo.MODLIST_OFFSET);
        assertEquals(0x60, StartInfo.MEMMAP_OFFSET);
        assertEquals(166, StartInfo.MEMMAP_MAX_ENTRIES);
    }

    @Test
    void startInfoFieldsAtTheirOffsets() {
        MemoryLayout ram = MemoryLayout.forRam(6 * Layout.GIB);
        ByteBuffer b = page(Optional.of(new StartInfo.Module(GuestAddress.of(0x7f00_0000L), 0x1234_5678_9aL)), ram.e820(),
                Optional.of(GuestAddress.of(0xe0000)));
        assertEquals(0x336ec578, b.getInt(0x00)); // magic
        assertEquals(1, b.getInt(0x04)); // version
        assertEquals(0, b.getInt(0x08)); // flags
        assertEquals(1, b.getInt(0x0c)); // nr_modules
        assertEquals(0x6040L, b.getLong(0x10)); // modlist_paddr
        assertEquals(0x20000L, b.getLong(0x18)); // cmdline_paddr
        assertEquals(0xe0000L, b.getLong(0x20)); // rsdp_paddr
        assertEquals(0x6060L, b.getLong(0x28)); // memmap_paddr
        assertEquals(4, b.getInt(0x30)); // memmap_entries
        assertEquals(0, b.getInt(0x34)); // reserved

        // hvm_modlist_entry: paddr, size, cmdline_paddr, reserved.
        assertEquals(0x7f00_0000L, b.getLong(0x40));
        assertEquals(0x1234_5678_9aL, b.getLong(0x48));
        assertEquals(0, b.getLong(0x50));
        assertEquals(0, b.getLong(0x58));

        // hvm_memmap_table_entry: addr, size, type, reserved — the e820 ranges, in order.
        long[][] expected = {
            {0, 0x9fc00, 1}, {0x9fc00, 0x100000 - 0x9fc00, 2}, {0x100000, 0xc000_0000L - 0x100000, 1},
            {0x1_0000_0000L, 3 * Layout.GIB, 1}};
        for (int i = 0; i < expected.length; i++) {
            int at = 0x60 + i * 24;
            assertEquals(expected[i][0], b.getLong(at), "addr " + i);
            assertEquals(expected[i][1], b.getLong(at + 8), "size " + i);
            assertEquals(expected[i][2], b.getInt(at + 16), "type " + i);
            assertEquals(0, b.getInt(at + 20), "reserved " + i);
        }
        // Nothing after the last entry.
        for (int at = 0x60 + 4 * 24; at < 4096; at++) {
            assertEquals(0, b.get(at), "byte " + at);
        }
    }

    @Test
    void withoutModuleOrRsdpTheAddressesAreZero() {
        ByteBuffer b = page(Optional.empty(), MemoryLayout.forRam(64 * Layout.MIB).e820(), Optional.empty());
        assertEquals(0, b.getInt(0x0c));
        // start_info.h: "a 0 value in any of the address fields should be treated as not present".
        assertEquals(0, b.getLong(0x10));
        assertEquals(0, b.getLong(0x20));
        assertEquals(0, b.getLong(0x40));
        assertEquals(3, b.getInt(0x30));
    }

    @Test
    void everyE820TypeKeepsItsCode() {
        List<E820Entry> map = List.of(
                new E820Entry(GuestAddress.of(0), 0x1000, E820Entry.Type.RAM),
                new E820Entry(GuestAddress.of(0x1000), 0x1000, E820Entry.Type.RESERVED),
                new E820Entry(GuestAddress.of(0x2000), 0x1000, E820Entry.Type.ACPI),
                new E820Entry(GuestAddress.of(0x3000), 0x1000, E820Entry.Type.NVS));
        ByteBuffer b = page(Optional.empty(), map, Optional.empty());
        for (int i = 0; i < 4; i++) {
            assertEquals(i + 1, b.getInt(0x60 + i * 24 + 16)); // XEN_HVM_MEMMAP_TYPE_RAM 1 .. _NVS 4
        }
    }

    @Test
    void memoryMapMustFitThePage() {
        E820Entry e = new E820Entry(GuestAddress.of(0), 0x1000, E820Entry.Type.RAM);
        StartInfo.page(BASE, CMDLINE, Optional.empty(), Collections.nCopies(166, e), Optional.empty());
        assertThrows(IllegalArgumentException.class,
                () -> StartInfo.page(BASE, CMDLINE, Optional.empty(), Collections.nCopies(167, e), Optional.empty()));
        assertThrows(IllegalArgumentException.class,
                () -> StartInfo.page(BASE, CMDLINE, Optional.empty(), List.of(), Optional.empty()));
    }
}
