package dev.ristretto.firmware.acpi;

import java.util.List;

/**
 * PCI Express memory-mapped configuration table (PCI Firmware Specification 3.x §4.1.2, Table
 * 4-2/4-3): the header, 8 reserved bytes, then per ECAM window a 16-byte allocation: base
 * address (8), PCI segment group (2), start bus (1), end bus (1), reserved (4).
 */
public final class Mcfg {

    public static final int REVISION = 1;
    public static final int FIRST_ALLOCATION_OFFSET = 44;
    public static final int ALLOCATION_SIZE = 16;

    private Mcfg() {
    }

    public static int size(int regions) {
        return FIRST_ALLOCATION_OFFSET + ALLOCATION_SIZE * regions;
    }

    public static byte[] build(AcpiConfig.OemIds oem, List<AcpiConfig.EcamRegion> regions) {
        Bytes.Writer body = new Bytes.Writer().u64(0);
        for (AcpiConfig.EcamRegion r : regions) {
            body.u64(r.baseAddress()).u16(r.segment()).u8(r.startBus()).u8(r.endBus()).u32(0);
        }
        return Sdt.table("MCFG", REVISION, oem, body.toByteArray());
    }
}
