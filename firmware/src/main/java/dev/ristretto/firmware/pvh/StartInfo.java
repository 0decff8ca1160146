package dev.ristretto.firmware.pvh;

import dev.ristretto.firmware.E820Entry;
import dev.ristretto.vmm.memory.GuestAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The PVH boot information page, as a pure function: struct hvm_start_info (version 1), then in
 * the same page the module list and the memory map it points to. Layouts from Xen
 * xen/include/public/arch-x86/hvm/start_info.h; every address and size is a little-endian u64,
 * and an address of 0 means "not present".
 *
 * <pre>
 *   +0x00  hvm_start_info        56 bytes
 *   +0x40  hvm_modlist_entry[]   32 bytes each (the initrd, when there is one)
 *   +0x60  hvm_memmap_table_entry[]  24 bytes each, up to the end of the page
 * </pre>
 */
public final class StartInfo {
    private StartInfo() {
    }

    /** XEN_HVM_START_MAGIC_VALUE: "xEn3" with the 0x80 bit of the "E" set. */
    public static final int MAGIC = 0x336e_c578;
    /** Version 1 adds memmap_paddr and memmap_entries, which Linux needs for its memory map. */
    public static final int VERSION = 1;

    // struct hvm_start_info
    public static final int MAGIC_OFFSET = 0x00;
    public static final int VERSION_OFFSET = 0x04;
    public static final int FLAGS_OFFSET = 0x08;
    public static final int NR_MODULES_OFFSET = 0x0c;
    public static final int MODLIST_PADDR_OFFSET = 0x10;
    public static final int CMDLINE_PADDR_OFFSET = 0x18;
    public static final int RSDP_PADDR_OFFSET = 0x20;
    public static final int MEMMAP_PADDR_OFFSET = 0x28;
    public static final int MEMMAP_ENTRIES_OFFSET = 0x30;
    /** sizeof(struct hvm_start_info), version 1 (the last field is a reserved u32 at 0x34). */
    public static final int SIZE = 0x38;

    // struct hvm_modlist_entry: paddr, size, cmdline_paddr, reserved.
    public static final int MODLIST_ENTRY_SIZE = 32;
    // struct hvm_memmap_table_entry: addr, size, type (u32), reserved (u32).
    public static final int MEMMAP_ENTRY_SIZE = 24;

    /** Offset of the module list in the page. */
    public static final int MODLIST_OFFSET = 0x40;
    /** Offset of the memory map in the page: after room for one module entry. */
    public static final int MEMMAP_OFFSET = MODLIST_OFFSET + MODLIST_ENTRY_SIZE;
    /** Bytes of the whole block: one 4 KiB page. */
    public static final int PAGE_SIZE = 4096;
    /** Memory map entries that fit in the page after the start_info and the module entry. */
    public static final int MEMMAP_MAX_ENTRIES = (PAGE_SIZE - MEMMAP_OFFSET) / MEMMAP_ENTRY_SIZE;

    /** One module (the initrd) as the kernel sees it. */
    public record Module(GuestAddress address, long size) {
        public Module {
            Objects.requireNonNull(address);
            if (size <= 0) {
                throw new IllegalArgumentException("module at " + address + " has size " + size);
            }
        }
    }

    /**
     * The page to write at {@code base}: start_info pointing at the command line, the module
     * list (zero or one module) and the memory map, all inside this page.
     *
     * @param memmap the memory map; its types are the e820 codes, which hvm_memmap_table_entry
     *               shares (XEN_HVM_MEMMAP_TYPE_RAM 1, _RESERVED 2, _ACPI 3, _NVS 4 ...)
     */
    public static byte[] page(GuestAddress base, GuestAddress cmdline, Optional<Module> module, List<E820Entry> memmap,
                              Optional<GuestAddress> rsdp) {
        if (memmap.isEmpty() || memmap.size() > MEMMAP_MAX_ENTRIES) {
            throw new IllegalArgumentException("memory map of " + memmap.size() + " entries; the start_info page holds 1 to "
                    + MEMMAP_MAX_ENTRIES);
        }
        ByteBuffer b = ByteBuffer.allocate(PAGE_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC_OFFSET, MAGIC);
        b.putInt(VERSION_OFFSET, VERSION);
        b.putInt(FLAGS_OFFSET, 0); // no SIF_ flags: not a privileged or initial domain
        b.putInt(NR_MODULES_OFFSET, module.isPresent() ? 1 : 0);
        b.putLong(MODLIST_PADDR_OFFSET, module.isPresent() ? base.checkedAdd(MODLIST_OFFSET).value() : 0);
        b.putLong(CMDLINE_PADDR_OFFSET, cmdline.value());
        b.putLong(RSDP_PADDR_OFFSET, rsdp.map(GuestAddress::value).orElse(0L));
        b.putLong(MEMMAP_PADDR_OFFSET, base.checkedAdd(MEMMAP_OFFSET).value());
        b.putInt(MEMMAP_ENTRIES_OFFSET, memmap.size());

        module.ifPresent(m -> {
            b.putLong(MODLIST_OFFSET, m.address().value());
            b.putLong(MODLIST_OFFSET + 8, m.size());
            // cmdline_paddr 0: the initrd takes no command line of its own; reserved stays 0.
        });

        int at = MEMMAP_OFFSET;
        for (E820Entry e : memmap) {
            b.putLong(at, e.start().value());
            b.putLong(at + 8, e.size());
            b.putInt(at + 16, e.type().code());
            at += MEMMAP_ENTRY_SIZE;
        }
        return b.array();
    }
}
