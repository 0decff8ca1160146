package dev.ristretto.firmware.mptable;

/**
 * What the MP table describes (Intel MultiProcessor Specification 1.4, chapter 4).
 *
 * @param vcpuCount        1-255 processors; vCPU i has local APIC id i, vCPU 0 is the BSP
 * @param localApicAddress memory-mapped address of the local APICs (0xFEE00000)
 * @param ioApicId         APIC id of the single IOAPIC (may equal a processor id: xAPIC)
 * @param ioApicAddress    its MMIO address (0xFEC00000)
 * @param oemId            up to 8 ASCII characters (config table header, Table 4-2)
 * @param productId        up to 12 ASCII characters
 */
public record MpConfig(int vcpuCount, long localApicAddress, int ioApicId, long ioApicAddress,
        String oemId, String productId) {

    public MpConfig {
        if (vcpuCount < 1 || vcpuCount > 255) {
            throw new MpTableException("vCPU count " + vcpuCount + " cannot be described by an"
                    + " MP table (8-bit APIC ids, 0xFF is broadcast); choose 1 to 255.");
        }
        if (ioApicId < 0 || ioApicId > 0xfe) {
            throw new MpTableException("IOAPIC id " + ioApicId + " is not an APIC id 0-254.");
        }
        if (localApicAddress < 0 || localApicAddress > 0xffff_ffffL
                || ioApicAddress < 0 || ioApicAddress > 0xffff_ffffL) {
            throw new MpTableException("APIC addresses must fit the MP table's 32-bit fields;"
                    + " use 0xfee00000 and 0xfec00000.");
        }
        checkAscii("MP OEM id", oemId, 8);
        checkAscii("MP product id", productId, 12);
    }

    private static void checkAscii(String what, String value, int max) {
        if (value == null || value.isEmpty() || value.length() > max
                || !value.chars().allMatch(c -> c >= 0x20 && c <= 0x7e)) {
            throw new MpTableException(what + " \"" + value + "\" must be 1 to " + max
                    + " printable ASCII characters.");
        }
    }
}
