/*
 * pvh-probe: prints over COM1 everything the VMM handed over through the PVH boot ABI, then
 * ends with "PVH-PROBE-DONE" and an i8042 reset. Runs in 32-bit protected mode with paging off,
 * so every physical address below 4 GiB is directly addressable.
 *
 * Structures: Xen xen/include/public/arch-x86/hvm/start_info.h (struct hvm_start_info, version
 * 1; struct hvm_modlist_entry; struct hvm_memmap_table_entry). Read field by field at their
 * documented offsets rather than through C structs, so the i386 ABI's 4-byte alignment of
 * uint64_t cannot shift anything.
 */
#include "probe.h"

#define SI_MAGIC 0x00
#define SI_VERSION 0x04
#define SI_FLAGS 0x08
#define SI_NR_MODULES 0x0c
#define SI_MODLIST_PADDR 0x10
#define SI_CMDLINE_PADDR 0x18
#define SI_RSDP_PADDR 0x20
#define SI_MEMMAP_PADDR 0x28
#define SI_MEMMAP_ENTRIES 0x30
#define SI_V1_SIZE 0x38

#define MOD_PADDR 0x00
#define MOD_SIZE 0x08
#define MOD_CMDLINE_PADDR 0x10
#define MOD_ENTRY_SIZE 0x20

#define MM_ADDR 0x00
#define MM_SIZE 0x08
#define MM_TYPE 0x10
#define MM_ENTRY_SIZE 0x18

/* Printing stops here; a larger count is printed but its entries are not all listed. */
#define MAX_LISTED 64
#define CMDLINE_MAX 4096

void pvh_main(uint32_t start_info) __attribute__((noreturn));

void pvh_main(uint32_t start_info) {
    probe_puts("\nPVH-PROBE start_info=");
    probe_hex32(start_info);
    probe_putc('\n');
    if (start_info == 0 || !probe_addressable(start_info, SI_V1_SIZE)) {
        probe_puts("error: no start_info\n");
        probe_finish("PVH-PROBE-DONE");
    }

    probe_puts("magic=");
    probe_hex32(probe_read32(start_info + SI_MAGIC));
    probe_puts(" version=");
    uint32_t version = probe_read32(start_info + SI_VERSION);
    probe_dec(version);
    probe_puts(" flags=");
    probe_hex32(probe_read32(start_info + SI_FLAGS));
    probe_putc('\n');

    uint64_t cmdline = probe_read64(start_info + SI_CMDLINE_PADDR);
    probe_puts("cmdline_paddr=");
    probe_hex64(cmdline);
    probe_puts(" cmdline=");
    probe_cstring(cmdline, CMDLINE_MAX);
    probe_putc('\n');

    /* memmap_paddr and memmap_entries exist from version 1 on. */
    if (version >= 1) {
        uint64_t memmap = probe_read64(start_info + SI_MEMMAP_PADDR);
        uint32_t entries = probe_read32(start_info + SI_MEMMAP_ENTRIES);
        probe_puts("memmap_paddr=");
        probe_hex64(memmap);
        probe_puts(" entries=");
        probe_dec(entries);
        probe_putc('\n');
        for (uint32_t i = 0; i < entries && i < MAX_LISTED; i++) {
            uint64_t e = memmap + (uint64_t)i * MM_ENTRY_SIZE;
            if (!probe_addressable(e, MM_ENTRY_SIZE)) {
                probe_puts("error: memmap beyond 4 GiB\n");
                break;
            }
            probe_puts("memmap[");
            probe_dec(i);
            probe_puts("] addr=");
            probe_hex64(probe_read64(e + MM_ADDR));
            probe_puts(" size=");
            probe_hex64(probe_read64(e + MM_SIZE));
            probe_puts(" type=");
            probe_dec(probe_read32(e + MM_TYPE));
            probe_putc('\n');
        }
    }

    uint32_t modules = probe_read32(start_info + SI_NR_MODULES);
    uint64_t modlist = probe_read64(start_info + SI_MODLIST_PADDR);
    probe_puts("modules=");
    probe_dec(modules);
    probe_puts(" modlist_paddr=");
    probe_hex64(modlist);
    probe_putc('\n');
    for (uint32_t i = 0; i < modules && i < MAX_LISTED; i++) {
        uint64_t m = modlist + (uint64_t)i * MOD_ENTRY_SIZE;
        if (!probe_addressable(m, MOD_ENTRY_SIZE)) {
            probe_puts("error: module list beyond 4 GiB\n");
            break;
        }
        uint64_t paddr = probe_read64(m + MOD_PADDR);
        uint64_t size = probe_read64(m + MOD_SIZE);
        probe_puts("module[");
        probe_dec(i);
        probe_puts("] paddr=");
        probe_hex64(paddr);
        probe_puts(" size=");
        probe_hex64(size);
        probe_puts(" cmdline_paddr=");
        probe_hex64(probe_read64(m + MOD_CMDLINE_PADDR));
        probe_blob(paddr, size);
        probe_putc('\n');
    }

    probe_rsdp_line(probe_read64(start_info + SI_RSDP_PADDR));

    probe_finish("PVH-PROBE-DONE");
}
