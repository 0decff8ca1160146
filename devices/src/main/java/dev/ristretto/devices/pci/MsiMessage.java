package dev.ristretto.devices.pci;

/**
 * A message-signalled interrupt: the guest-physical address and the 32-bit data a device writes
 * to raise it (PCI Local Bus 3.0 §6.8; on x86 the address is in the 0xFEEx_xxxx window and
 * encodes the destination APIC, the data the vector, Intel SDM Vol. 3A §11.11).
 */
public record MsiMessage(long address, int data) {
    @Override
    public String toString() {
        return "MsiMessage[0x" + Long.toHexString(address) + " <- 0x" + Integer.toHexString(data) + "]";
    }
}
