package dev.ristretto.firmware.acpi;

import java.util.List;

/**
 * Extended System Description Table (ACPI 6.5 §5.2.8): the header, then one 64-bit
 * physical address per table. Revision 1. The DSDT is not listed: the FADT points at it.
 */
public final class Xsdt {

    public static final int REVISION = 1;

    private Xsdt() {
    }

    /** Size of an XSDT listing {@code entries} tables. */
    public static int size(int entries) {
        return Sdt.HEADER_SIZE + 8 * entries;
    }

    public static byte[] build(AcpiConfig.OemIds oem, List<Long> tableAddresses) {
        Bytes.Writer body = new Bytes.Writer();
        for (long address : tableAddresses) {
            body.u64(address);
        }
        return Sdt.table("XSDT", REVISION, oem, body.toByteArray());
    }
}
