package dev.ristretto.firmware.acpi;

import dev.ristretto.vmm.memory.GuestAddress;

/**
 * One placed table: its signature ("RSDP" for the root pointer, whose real signature is
 * "RSD PTR "), its guest-physical address and its bytes. For {@code --dump-acpi}.
 */
public record AcpiTable(String signature, GuestAddress address, byte[] bytes) {

    public AcpiTable {
        bytes = bytes.clone();
    }

    @Override
    public byte[] bytes() {
        return bytes.clone();
    }

    public int length() {
        return bytes.length;
    }
}
