/** Pure device models: each is a state machine that sees only bus offsets, an IRQ line and sinks. */
module ristretto.devices {
    requires transitive ristretto.vmm.core;

    exports dev.ristretto.devices.acpi;
    exports dev.ristretto.devices.pci;
    exports dev.ristretto.devices.virtio;
}
