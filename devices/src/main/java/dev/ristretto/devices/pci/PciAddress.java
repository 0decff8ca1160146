package dev.ristretto.devices.pci;

/** A bus/device/function triple (PCI Local Bus 3.0 §3.2.2.3.1): bus 0-255, device 0-31, function 0-7. */
public record PciAddress(int bus, int device, int function) {
    public PciAddress {
        if (bus < 0 || bus > 255 || device < 0 || device > 31 || function < 0 || function > 7) {
            throw new IllegalArgumentException("PCI address " + bus + ":" + device + "." + function
                    + " is outside bus 0-255, device 0-31, function 0-7");
        }
    }

    @Override
    public String toString() {
        return String.format("%02x:%02x.%x", bus, device, function);
    }
}
