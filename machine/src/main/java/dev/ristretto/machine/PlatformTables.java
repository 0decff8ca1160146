package dev.ristretto.machine;

import dev.ristretto.devices.acpi.AcpiPowerDevice;
import dev.ristretto.devices.serial.Serial16550;
import dev.ristretto.firmware.Layout;
import dev.ristretto.firmware.ResetVector;
import dev.ristretto.devices.pci.PciRoot;
import dev.ristretto.firmware.acpi.AcpiConfig;
import dev.ristretto.firmware.acpi.Aml;
import dev.ristretto.firmware.acpi.AmlResource;
import dev.ristretto.firmware.acpi.AcpiTable;
import dev.ristretto.firmware.acpi.AcpiTables;
import dev.ristretto.firmware.mptable.MpConfig;
import dev.ristretto.firmware.mptable.MpTable;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The firmware tables that tell a kernel what this machine has: ACPI (RSDP, XSDT, FADT, MADT, DSDT)
 * in the BIOS area at 0xe0000, and the Intel MP table (MP spec 1.4 §4) at 0xf0000, the start of the
 * BIOS ROM range Linux scans for its floating pointer. Both are written: a kernel with ACPI uses
 * ACPI (Debian's cloud kernel has no MP-table parser at all), one built without it finds the MP
 * table; with {@code --acpi off} only the MP table is written, as kvmtool does. The reset-vector
 * stub ({@link ResetVector}) goes at the top of the BIOS area.
 */
record PlatformTables(Optional<AcpiTables> acpi, byte[] mpTable) {

    static final String OEM_ID = "RSTRTO";
    static final String OEM_TABLE_ID = "RISTRETO";
    /** Where the MP floating pointer and configuration table go (MP spec 1.4 §4: BIOS ROM area). */
    static final GuestAddress MP_TABLE = GuestAddress.of(0xf0000);
    /** The IOAPIC's ID: after the vCPUs' APIC IDs 0..n-1 would be tidier, but Linux accepts 0 for xAPIC. */
    static final int IOAPIC_ID = 0;
    /** The value the FADT tells the guest to write to the reset register (any non-zero byte works). */
    static final int RESET_VALUE = 0x0f;
    /** SLP_TYP for S5 in the DSDT's \_S5 package; the power device recognises the same value. */
    static final int S5_SLEEP_TYPE = 5;

    /** Builds the tables for {@code cpus} vCPUs; ACPI unless {@code withAcpi} is false. */
    static PlatformTables build(int cpus, boolean withAcpi) {
        Optional<AcpiTables> acpi = Optional.empty();
        if (withAcpi) {
            AcpiConfig config = new AcpiConfig(
                    new AcpiConfig.OemIds(OEM_ID, OEM_TABLE_ID, 1),
                    cpus,
                    Layout.LAPIC.value(),
                    new AcpiConfig.IoApic(IOAPIC_ID, Layout.IOAPIC.value(), 0),
                    // ISA IRQ 0 (the PIT) is wired to IOAPIC pin 2 on PCs and in KVM's irqchip
                    // (ACPI 6.5 §5.2.12.5); the other ISA IRQs are identity-mapped, edge, active high.
                    List.of(new AcpiConfig.InterruptOverride(0, 2, AcpiConfig.Polarity.CONFORMS,
                            AcpiConfig.Trigger.CONFORMS)),
                    List.of(new AcpiConfig.SerialPort(Serial16550.COM1_PORT, Serial16550.COM1_IRQ)),
                    AcpiConfig.PowerRegisters.consecutive(AcpiPowerDevice.SUGGESTED_BASE, RESET_VALUE, S5_SLEEP_TYPE),
                    new AcpiConfig.Platform(true, true, false),
                    List.of(new AcpiConfig.EcamRegion(Layout.PCI_ECAM.value(), 0, 0, Layout.PCI_ECAM_BUSES - 1)),
                    List.of(keyboardControllerAml(), rtcAml(), pciHostBridgeAml(), ecamReservationAml()));
            AcpiTables tables = AcpiTables.build(config, Layout.ACPI_TABLES_START);
            GuestAddress end = tables.base().checkedAdd(tables.bytes().length);
            if (end.compareTo(MP_TABLE) > 0) {
                throw new IllegalStateException("ACPI tables for " + cpus + " vCPUs end at " + end
                        + ", past the MP table at " + MP_TABLE);
            }
            acpi = Optional.of(tables);
        }
        byte[] mp = MpTable.build(new MpConfig(cpus, Layout.LAPIC.value(), IOAPIC_ID, Layout.IOAPIC.value(),
                OEM_ID, "RISTRETTO"), MP_TABLE);
        if (MP_TABLE.checkedAdd(mp.length).compareTo(Layout.RESET_VECTOR) > 0) {
            throw new IllegalStateException("MP table for " + cpus + " vCPUs does not fit below 1 MiB");
        }
        return new PlatformTables(acpi, mp);
    }

    /**
     * The PCI host bridge in the DSDT (PCI Firmware spec 3.2 §4.1.5; ACPI 6.5 §6.2.13 _PRT): a
     * PNP0A08 (PCI Express) root, compatible with PNP0A03, whose _CRS gives the bus range, the I/O
     * ports it forwards (all but the 0xCF8-0xCFF configuration ports) and the 32-bit memory window
     * BARs live in; _PRT routes INTA-INTD of every slot to GSIs 16-23 with the usual swizzle,
     * GSI = 16 + (slot + pin) mod 8, which is what {@link PciPlatform#intxGsi} wires.
     */
    static byte[] pciHostBridgeAml() {
        List<byte[]> prt = new ArrayList<>();
        for (int slot = 0; slot < 32; slot++) {
            for (int pin = 0; pin < 4; pin++) {
                prt.add(Aml.pkg(Aml.integer(((long) slot << 16) | 0xffff), Aml.integer(pin), Aml.zero(),
                        Aml.integer(PciPlatform.intxGsi(slot, pin))));
            }
        }
        long mmioEnd = Layout.PCI_MMIO32.value() + Layout.PCI_MMIO32_SIZE - 1;
        return Aml.device("PCI0",
                Aml.hid("PNP0A08"),
                Aml.name("_CID", Aml.integer(Aml.eisaId("PNP0A03"))),
                Aml.name("_SEG", Aml.zero()),
                Aml.name("_BBN", Aml.zero()),
                Aml.uid(0),
                Aml.crs(AmlResource.wordBusNumber(0, Layout.PCI_ECAM_BUSES - 1),
                        AmlResource.wordIo(0, PciRoot.CONFIG_ADDRESS_PORT - 1),
                        AmlResource.wordIo(PciRoot.CONFIG_ADDRESS_PORT + 8, 0xffff),
                        AmlResource.dwordMemory(AmlResource.Cacheability.NON_CACHEABLE, true,
                                Layout.PCI_MMIO32.value(), mmioEnd)),
                Aml.name("_PRT", Aml.pkg(prt.toArray(byte[][]::new))));
    }

    /**
     * The i8042 as an ACPI PNP device (PNP0303, IBM enhanced keyboard controller) with its ports and
     * IRQ 1. Hardware-reduced ACPI gives Linux no legacy PIC, so ISA IRQs are not implicitly there:
     * the i8042 driver only gets its interrupt through this _CRS (drivers/input/serio/
     * i8042-acpipnpio.h). No PNP0F13 mouse is listed: the controller has no AUX device, and Linux
     * then leaves the AUX port alone.
     */
    static byte[] keyboardControllerAml() {
        return Aml.device("KBD_",
                Aml.hid("PNP0303"),
                Aml.uid(0),
                Aml.crs(AmlResource.io(0x60, 0x60, 1, 1), AmlResource.io(0x64, 0x64, 1, 1),
                        AmlResource.irqNoFlags(1)));
    }

    /**
     * The CMOS RTC (PNP0B00, MC146818-compatible) with its index/data ports and IRQ 8, for the same
     * reason: on reduced hardware Linux's rtc_cmos finds its interrupt only through ACPI PNP.
     */
    static byte[] rtcAml() {
        return Aml.device("RTC_",
                Aml.hid("PNP0B00"),
                Aml.uid(0),
                Aml.crs(AmlResource.io(0x70, 0x70, 1, 2), AmlResource.irqNoFlags(8)));
    }

    /**
     * ECAM must be reserved where Linux can see it, or it ignores MCFG and falls back to port
     * 0xCF8 (arch/x86/pci/mmconfig-shared.c, pci_mmcfg_reserved): a PNP0C02 motherboard-resources
     * device claiming the ECAM range does that without touching the e820 map.
     */
    static byte[] ecamReservationAml() {
        long size = (long) Layout.PCI_ECAM_BUSES * PciRoot.ECAM_BUS_SIZE;
        return Aml.device("MRES",
                Aml.hid("PNP0C02"),
                Aml.uid(1),
                Aml.crs(AmlResource.dwordMemory(AmlResource.Cacheability.NON_CACHEABLE, false,
                        Layout.PCI_ECAM.value(), Layout.PCI_ECAM.value() + size - 1)));
    }

    /** The address of the RSDP, for boot_params.acpi_rsdp_addr. */
    Optional<GuestAddress> rsdp() {
        return acpi.map(AcpiTables::rsdpAddress);
    }

    void writeTo(GuestMemory memory) {
        acpi.ifPresent(t -> memory.write(t.base(), t.bytes()));
        memory.write(MP_TABLE, mpTable);
        memory.write(Layout.RESET_VECTOR, ResetVector.bytes());
    }

    /**
     * Writes each ACPI table to {@code dir} as one file named by its signature ({@code DSDT.aml},
     * {@code APIC.dat}, …, the names {@code acpidump -b} and {@code iasl -d} use).
     */
    void dump(Path dir) {
        try {
            Files.createDirectories(dir);
            for (AcpiTable t : acpi.map(AcpiTables::tables).orElse(List.of())) {
                String name = t.signature().equals("DSDT") || t.signature().equals("SSDT")
                        ? t.signature() + ".aml" : t.signature() + ".dat";
                Files.write(dir.resolve(name), t.bytes());
            }
        } catch (IOException e) {
            throw SetupException.usage("cannot write the ACPI tables to " + dir + " (" + e.getMessage()
                    + "): choose another directory for --dump-acpi");
        }
    }
}
