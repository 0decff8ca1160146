/** Pure boot code: kernel loaders, boot_params, e820, cmdline, page tables, GDT and, later, ACPI. */
module ristretto.firmware {
    requires ristretto.vmm.core;

    exports dev.ristretto.firmware.acpi;
    exports dev.ristretto.firmware.mptable;
}
