package dev.ristretto.devices.pci;

/**
 * The host bridge at 00:00.0: a type-0 function of class 06/00 (bridge, host bridge; PCI Local
 * Bus 3.0 appendix D) with no BARs and no interrupt. Linux wants a function at 00:00.0 on the
 * root bus (it is what lspci shows as the host bridge); the bus itself is served by
 * {@link PciRoot}.
 *
 * <p>IDs: 1b36:0008 is Red Hat's ID for a generic virtual PCIe host bridge (allocated in QEMU's
 * docs/specs/pci-ids.rst; QEMU's gpex host and several other VMMs present it). No Linux driver
 * or quirk matches it, which is what we want: the kernel treats it as a plain host bridge. An
 * Intel chipset ID would invite chipset quirks that do not apply.
 */
public final class PciHostBridge extends PciFunction {

    public static final int VENDOR_ID = 0x1b36;
    public static final int DEVICE_ID = 0x0008;
    public static final int CLASS_HOST_BRIDGE = 0x06_00_00;

    public PciHostBridge() {
        super("host-bridge", new PciConfigSpace(VENDOR_ID, DEVICE_ID, 0, CLASS_HOST_BRIDGE, VENDOR_ID,
                DEVICE_ID, 0));
    }

    @Override
    public void readBar(int bar, long offset, byte[] data) {
        throw new IllegalArgumentException("the host bridge has no BAR " + bar);
    }

    @Override
    public void writeBar(int bar, long offset, byte[] data) {
        throw new IllegalArgumentException("the host bridge has no BAR " + bar);
    }
}
