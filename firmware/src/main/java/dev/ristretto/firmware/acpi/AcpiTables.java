package dev.ristretto.firmware.acpi;

import dev.ristretto.vmm.memory.GuestAddress;

import java.util.ArrayList;
import java.util.List;

/**
 * The full set of ACPI tables, laid out contiguously from a caller-chosen base: RSDP, XSDT, FADT,
 * MADT, DSDT and (when ECAM regions are configured) MCFG, each on an 8-byte boundary.
 *
 * <p>The size never depends on the base (tables hold addresses in fixed-width fields), so a
 * caller can ask {@link #size(AcpiConfig)} first, choose where the blob goes, then build it.
 *
 * @param base        where {@link #bytes()} goes in guest memory
 * @param bytes       the blob to copy to {@code base}
 * @param rsdpAddress the RSDP's address (equal to {@code base}), for boot_params.acpi_rsdp_addr
 * @param tables      every table with its address, RSDP first
 */
public record AcpiTables(GuestAddress base, byte[] bytes, GuestAddress rsdpAddress,
        List<AcpiTable> tables) {

    /** Alignment of each table inside the blob; the RSDP itself needs 16 (§5.2.5.1). */
    static final int TABLE_ALIGNMENT = 8;
    static final int RSDP_ALIGNMENT = 16;

    public AcpiTables {
        bytes = bytes.clone();
        tables = List.copyOf(tables);
    }

    @Override
    public byte[] bytes() {
        return bytes.clone();
    }

    /** The table with {@code signature}, or throws when it was not built. */
    public AcpiTable table(String signature) {
        for (AcpiTable t : tables) {
            if (t.signature().equals(signature)) {
                return t;
            }
        }
        throw new IllegalArgumentException("no " + signature + " table was built");
    }

    /** The number of bytes {@link #build} will produce for {@code config}. */
    public static long size(AcpiConfig config) {
        return build(config, GuestAddress.of(0)).bytes.length;
    }

    /**
     * Builds and places the tables from {@code base}, which must be 16-byte aligned (the RSDP
     * rule of §5.2.5.1) and leave room for the blob below 2^64.
     */
    public static AcpiTables build(AcpiConfig config, GuestAddress base) {
        if (!base.isAligned(RSDP_ALIGNMENT)) {
            throw new AcpiConfigException("ACPI table base " + base + " is not 16-byte aligned,"
                    + " as the RSDP must be (ACPI 6.5 §5.2.5.1); align it to 16.");
        }
        // Tables that hold no addresses come first so that their sizes fix the layout.
        byte[] madt = Madt.build(config);
        byte[] dsdt = Dsdt.build(config);
        byte[] mcfg = config.ecamRegions().isEmpty() ? null : Mcfg.build(config.oem(),
                config.ecamRegions());
        int xsdtEntries = mcfg == null ? 2 : 3;

        long xsdtOffset = align(Rsdp.SIZE);
        long fadtOffset = align(xsdtOffset + Xsdt.size(xsdtEntries));
        long madtOffset = align(fadtOffset + Fadt.SIZE);
        long dsdtOffset = align(madtOffset + madt.length);
        long mcfgOffset = align(dsdtOffset + dsdt.length);
        long end = mcfg == null ? dsdtOffset + dsdt.length : mcfgOffset + mcfg.length;
        base.checkedAdd(end); // the whole blob must be addressable

        GuestAddress xsdtAt = base.checkedAdd(xsdtOffset);
        GuestAddress fadtAt = base.checkedAdd(fadtOffset);
        GuestAddress madtAt = base.checkedAdd(madtOffset);
        GuestAddress dsdtAt = base.checkedAdd(dsdtOffset);
        GuestAddress mcfgAt = base.checkedAdd(mcfgOffset);

        byte[] fadt = Fadt.build(config, dsdtAt.value());
        List<Long> entries = new ArrayList<>(List.of(fadtAt.value(), madtAt.value()));
        if (mcfg != null) {
            entries.add(mcfgAt.value());
        }
        byte[] xsdt = Xsdt.build(config.oem(), entries);
        byte[] rsdp = Rsdp.build(config.oem(), xsdtAt.value());

        byte[] blob = new byte[Math.toIntExact(end)];
        List<AcpiTable> tables = new ArrayList<>();
        place(blob, tables, "RSDP", base, 0, rsdp);
        place(blob, tables, "XSDT", xsdtAt, xsdtOffset, xsdt);
        place(blob, tables, "FACP", fadtAt, fadtOffset, fadt);
        place(blob, tables, "APIC", madtAt, madtOffset, madt);
        place(blob, tables, "DSDT", dsdtAt, dsdtOffset, dsdt);
        if (mcfg != null) {
            place(blob, tables, "MCFG", mcfgAt, mcfgOffset, mcfg);
        }
        return new AcpiTables(base, blob, base, tables);
    }

    private static void place(byte[] blob, List<AcpiTable> tables, String signature,
            GuestAddress at, long offset, byte[] table) {
        System.arraycopy(table, 0, blob, Math.toIntExact(offset), table.length);
        tables.add(new AcpiTable(signature, at, table));
    }

    private static long align(long offset) {
        return (offset + TABLE_ALIGNMENT - 1) & -TABLE_ALIGNMENT;
    }
}
