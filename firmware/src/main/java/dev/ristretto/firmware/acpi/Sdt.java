package dev.ristretto.firmware.acpi;

/**
 * The 36-byte System Description Table header (ACPI 6.5 §5.2.6) that starts every
 * table but the RSDP, and the checksum over the finished table.
 */
final class Sdt {

    static final int HEADER_SIZE = 36;
    static final int LENGTH_OFFSET = 4;
    static final int REVISION_OFFSET = 8;
    static final int CHECKSUM_OFFSET = 9;
    static final int OEM_ID_OFFSET = 10;
    static final int OEM_TABLE_ID_OFFSET = 16;
    static final int OEM_REVISION_OFFSET = 24;
    static final int CREATOR_ID_OFFSET = 28;
    static final int CREATOR_REVISION_OFFSET = 32;

    /**
     * Creator ID: "the vendor ID of utility that created the table" (§5.2.6). For tables built
     * by Ristretto's own code that is us; the revision counts changes to these builders.
     */
    static final String CREATOR_ID = "RSTR";
    static final int CREATOR_REVISION = 1;

    private Sdt() {
    }

    /** A complete table: header (length and checksum filled in) followed by {@code body}. */
    static byte[] table(String signature, int revision, AcpiConfig.OemIds oem, byte[] body) {
        if (signature.length() != 4) {
            throw new IllegalArgumentException("table signature must be 4 characters: "
                    + signature);
        }
        byte[] out = new Bytes.Writer()
                .ascii(signature, 4, ' ')
                .u32(HEADER_SIZE + (long) body.length)
                .u8(revision)
                .u8(0) // checksum, below
                .ascii(oem.oemId(), 6, ' ')
                .ascii(oem.oemTableId(), 8, ' ')
                .u32(oem.oemRevision())
                .ascii(CREATOR_ID, 4, ' ')
                .u32(CREATOR_REVISION)
                .bytes(body)
                .toByteArray();
        out[CHECKSUM_OFFSET] = Bytes.checksum(out, 0, out.length);
        return out;
    }
}
