package dev.ristretto.firmware.acpi;

/**
 * Multiple APIC Description Table (ACPI 6.5 §5.2.12), signature "APIC": the local
 * APIC address and flags, then one Processor Local APIC structure per vCPU, the IOAPIC, the
 * interrupt source overrides and a Local APIC NMI structure for LINT1.
 *
 * <p>Linux's Debian cloud kernel has no MP-table parser (X86_MPPARSE=n), so this table is the
 * only way it learns about the vCPUs and the IOAPIC.
 */
public final class Madt {

    public static final int REVISION = 6;
    public static final int LOCAL_APIC_ADDRESS_OFFSET = 36;
    public static final int FLAGS_OFFSET = 40;
    public static final int FIRST_ENTRY_OFFSET = 44;

    /** MADT flag PCAT_COMPAT (§5.2.12, Multiple APIC Flags): dual 8259 PICs are present too. */
    public static final int FLAG_PCAT_COMPAT = 1;

    // Interrupt controller structure types and lengths (§5.2.12.2-7).
    public static final int TYPE_LOCAL_APIC = 0;
    public static final int LOCAL_APIC_LENGTH = 8;
    public static final int TYPE_IO_APIC = 1;
    public static final int IO_APIC_LENGTH = 12;
    public static final int TYPE_INTERRUPT_SOURCE_OVERRIDE = 2;
    public static final int INTERRUPT_SOURCE_OVERRIDE_LENGTH = 10;
    public static final int TYPE_LOCAL_APIC_NMI = 4;
    public static final int LOCAL_APIC_NMI_LENGTH = 6;

    /** Local APIC flags bit 0, Enabled (§5.2.12.2). */
    public static final int LOCAL_APIC_ENABLED = 1;

    private Madt() {
    }

    public static int size(AcpiConfig config) {
        return FIRST_ENTRY_OFFSET + LOCAL_APIC_LENGTH * config.vcpuCount() + IO_APIC_LENGTH
                + INTERRUPT_SOURCE_OVERRIDE_LENGTH * config.interruptOverrides().size()
                + LOCAL_APIC_NMI_LENGTH;
    }

    public static byte[] build(AcpiConfig config) {
        Bytes.Writer b = new Bytes.Writer();
        b.u32(config.localApicAddress());
        // KVM's in-kernel irqchip (KVM_CREATE_IRQCHIP) includes the two 8259s, so the flag is
        // true; it tells the OS to mask them before it uses the APICs (§5.2.12).
        b.u32(FLAG_PCAT_COMPAT);
        for (int cpu = 0; cpu < config.vcpuCount(); cpu++) {
            // §5.2.12.2: ACPI Processor UID, APIC ID, flags. UID i and APIC id i for vCPU i;
            // the machine must give vCPU i APIC id i (KVM's default for vcpu_id i).
            b.u8(TYPE_LOCAL_APIC).u8(LOCAL_APIC_LENGTH).u8(cpu).u8(cpu).u32(LOCAL_APIC_ENABLED);
        }
        AcpiConfig.IoApic io = config.ioApic();
        // §5.2.12.3: IOAPIC id, reserved, address, GSI base.
        b.u8(TYPE_IO_APIC).u8(IO_APIC_LENGTH).u8(io.id()).u8(0).u32(io.address())
                .u32(io.gsiBase());
        for (AcpiConfig.InterruptOverride o : config.interruptOverrides()) {
            // §5.2.12.5: bus 0 = ISA, source IRQ, GSI, MPS INTI flags.
            b.u8(TYPE_INTERRUPT_SOURCE_OVERRIDE).u8(INTERRUPT_SOURCE_OVERRIDE_LENGTH).u8(0)
                    .u8(o.irq()).u32(o.gsi()).u16(o.flags());
        }
        // §5.2.12.7: NMI is wired to LINT1 of every processor (UID 0xFF = all), flags 0 =
        // conforming to the bus, as on a PC where LINT1 is the NMI pin.
        b.u8(TYPE_LOCAL_APIC_NMI).u8(LOCAL_APIC_NMI_LENGTH).u8(0xff).u16(0).u8(1);
        return Sdt.table("APIC", REVISION, config.oem(), b.toByteArray());
    }
}
