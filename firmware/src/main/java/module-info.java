/** Pure boot code: kernel loaders (bzImage, ELF, PVH), boot_params, e820, cmdline, page tables, GDT, ACPI and MP tables. */
module ristretto.firmware {
    requires transitive ristretto.vmm.core;

    exports dev.ristretto.firmware;
    exports dev.ristretto.firmware.acpi;
    exports dev.ristretto.firmware.elf;
    exports dev.ristretto.firmware.mptable;
    exports dev.ristretto.firmware.pvh;
}
