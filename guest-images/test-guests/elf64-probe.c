/*
 * elf64-probe: entered through its ELF entry point in 64-bit mode with RSI = struct boot_params
 * (the Linux 64-bit boot protocol). Prints over COM1 what the VMM put in the zero page, then
 * ends with "ELF64-PROBE-DONE" and an i8042 reset (or, with "probe.stay" on the command line,
 * halts there and leaves the VMM running).
 *
 * Offsets: Linux Documentation/arch/x86/zero-page.rst and boot.rst ("THE REAL-MODE KERNEL
 * HEADER"); the e820 table is struct boot_e820_entry[] (u64 addr, u64 size, u32 type, packed,
 * 20 bytes) as in arch/x86/include/uapi/asm/bootparam.h.
 */
#include "probe.h"

#define BP_ACPI_RSDP_ADDR 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_BOOT_FLAG 0x1fe
#define BP_HEADER 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_CMD_LINE_PTR 0x228
#define BP_CMDLINE_SIZE 0x238
#define BP_E820_TABLE 0x2d0
#define BP_SIZE 0x1000
#define E820_ENTRY_SIZE 20
#define E820_MAX 128

#define CMDLINE_MAX 4096

void elf64_main(uint64_t bp) __attribute__((noreturn));

void elf64_main(uint64_t bp) {
    probe_puts("\nELF64-PROBE boot_params=");
    probe_hex64(bp);
    probe_putc('\n');
    if (bp == 0 || !probe_addressable(bp, BP_SIZE)) {
        probe_puts("error: no boot_params\n");
        probe_finish("ELF64-PROBE-DONE");
    }

    probe_puts("boot_flag=");
    probe_hex32(probe_read8(bp + BP_BOOT_FLAG) | (uint32_t)probe_read8(bp + BP_BOOT_FLAG + 1) << 8);
    probe_puts(" header=");
    probe_hex32(probe_read32(bp + BP_HEADER));
    probe_puts(" version=");
    probe_hex32(probe_read8(bp + BP_VERSION) | (uint32_t)probe_read8(bp + BP_VERSION + 1) << 8);
    probe_puts(" type_of_loader=");
    probe_hex32(probe_read8(bp + BP_TYPE_OF_LOADER));
    probe_puts(" cmdline_size=");
    probe_hex32(probe_read32(bp + BP_CMDLINE_SIZE));
    probe_putc('\n');

    uint64_t cmdline = probe_read32(bp + BP_CMD_LINE_PTR)
            | (uint64_t)probe_read32(bp + BP_EXT_CMD_LINE_PTR) << 32;
    probe_puts("cmd_line_ptr=");
    probe_hex64(cmdline);
    probe_puts(" cmdline=");
    probe_cstring(cmdline, CMDLINE_MAX);
    probe_putc('\n');
    probe_scan_options(cmdline, CMDLINE_MAX);

    uint32_t entries = probe_read8(bp + BP_E820_ENTRIES);
    probe_puts("e820 entries=");
    probe_dec(entries);
    probe_putc('\n');
    for (uint32_t i = 0; i < entries && i < E820_MAX; i++) {
        uint64_t e = bp + BP_E820_TABLE + (uint64_t)i * E820_ENTRY_SIZE;
        probe_puts("e820[");
        probe_dec(i);
        probe_puts("] addr=");
        probe_hex64(probe_read64(e));
        probe_puts(" size=");
        probe_hex64(probe_read64(e + 8));
        probe_puts(" type=");
        probe_dec(probe_read32(e + 16));
        probe_putc('\n');
    }

    uint64_t initrd = probe_read32(bp + BP_RAMDISK_IMAGE)
            | (uint64_t)probe_read32(bp + BP_EXT_RAMDISK_IMAGE) << 32;
    uint64_t initrd_size = probe_read32(bp + BP_RAMDISK_SIZE)
            | (uint64_t)probe_read32(bp + BP_EXT_RAMDISK_SIZE) << 32;
    probe_puts("initrd addr=");
    probe_hex64(initrd);
    probe_puts(" size=");
    probe_hex64(initrd_size);
    if (initrd != 0 && initrd_size != 0) {
        probe_blob(initrd, initrd_size);
    }
    probe_putc('\n');

    probe_rsdp_line(probe_read64(bp + BP_ACPI_RSDP_ADDR));

    probe_finish("ELF64-PROBE-DONE");
}
