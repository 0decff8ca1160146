/** Pure device models: each is a state machine that sees only bus offsets, an IRQ line and sinks. */
module ristretto.devices {
    // Transitive: the devices' public API takes and returns BusDevice, IrqLine and PowerControl.
    requires transitive ristretto.vmm.core;

    exports dev.ristretto.devices.acpi;
    exports dev.ristretto.devices.backend;
    exports dev.ristretto.devices.i8042;
    exports dev.ristretto.devices.legacy;
    exports dev.ristretto.devices.pci;
    exports dev.ristretto.devices.rtc;
    exports dev.ristretto.devices.serial;
    exports dev.ristretto.devices.virtio;
    exports dev.ristretto.devices.virtio.block;
    exports dev.ristretto.devices.virtio.console;
    exports dev.ristretto.devices.virtio.net;
}
