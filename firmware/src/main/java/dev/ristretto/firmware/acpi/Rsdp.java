package dev.ristretto.firmware.acpi;

/**
 * Root System Description Pointer, ACPI 2.0+ form (ACPI 6.5 §5.2.5.3): 36 bytes,
 * revision 2, pointing at the XSDT. It must sit on a 16-byte boundary (§5.2.5.1) when OSPM
 * finds it by scanning; Linux can also be given its address in boot_params.acpi_rsdp_addr.
 */
public final class Rsdp {

    public static final int SIZE = 36;
    public static final int CHECKSUM_OFFSET = 8;
    public static final int OEM_ID_OFFSET = 9;
    public static final int REVISION_OFFSET = 15;
    public static final int RSDT_ADDRESS_OFFSET = 16;
    public static final int LENGTH_OFFSET = 20;
    public static final int XSDT_ADDRESS_OFFSET = 24;
    public static final int EXTENDED_CHECKSUM_OFFSET = 32;
    /** The first checksum covers the ACPI 1.0 part: bytes 0-19. */
    public static final int V1_LENGTH = 20;
    public static final String SIGNATURE = "RSD PTR ";

    private Rsdp() {
    }

    /**
     * The RSDP for an XSDT at {@code xsdtAddress}. RsdtAddress stays 0: we publish no RSDT, which
     * an ACPI 2.0+ OS does not need (§5.2.8: the XSDT supersedes the RSDT; Linux and ACPICA use
     * the XSDT whenever revision >= 2 and XsdtAddress != 0).
     */
    public static byte[] build(AcpiConfig.OemIds oem, long xsdtAddress) {
        byte[] out = new Bytes.Writer()
                .ascii(SIGNATURE, 8, ' ')
                .u8(0) // checksum of bytes 0-19, below
                .ascii(oem.oemId(), 6, ' ')
                .u8(2) // revision 2 = ACPI 2.0 and later
                .u32(0) // RsdtAddress
                .u32(SIZE)
                .u64(xsdtAddress)
                .u8(0) // extended checksum of all 36 bytes, below
                .bytes(new byte[3])
                .toByteArray();
        out[CHECKSUM_OFFSET] = Bytes.checksum(out, 0, V1_LENGTH);
        out[EXTENDED_CHECKSUM_OFFSET] = Bytes.checksum(out, 0, SIZE);
        return out;
    }
}
