package dev.ristretto.firmware.acpi;

import java.util.ArrayList;
import java.util.List;

/**
 * What the ACPI tables describe. Every address and port comes from the caller (the machine's
 * layout); the builders invent none.
 *
 * @param oem             OEM ids written into every table header
 * @param vcpuCount       number of vCPUs, 1-255; vCPU i gets ACPI processor UID i and APIC id i
 *                        (xAPIC ids are 8 bits and 0xFF is the broadcast id, hence 255)
 * @param localApicAddress physical address of the local APICs (0xFEE00000 on x86)
 * @param ioApic          the single IOAPIC
 * @param interruptOverrides ISA IRQ to GSI overrides for the MADT (e.g. IRQ0 to GSI2)
 * @param serialPorts     16550 UARTs to describe as PNP0501 devices
 * @param powerRegisters  the I/O ports of the sleep control/status and reset registers
 * @param platform        which legacy PC devices exist (FADT IAPC_BOOT_ARCH)
 * @param ecamRegions     PCI Express ECAM windows for the MCFG; empty means no MCFG table
 * @param extraDeviceAml  further AML terms (e.g. a PCI host bridge Device) placed in \_SB
 */
public record AcpiConfig(
        OemIds oem,
        int vcpuCount,
        long localApicAddress,
        IoApic ioApic,
        List<InterruptOverride> interruptOverrides,
        List<SerialPort> serialPorts,
        PowerRegisters powerRegisters,
        Platform platform,
        List<EcamRegion> ecamRegions,
        List<byte[]> extraDeviceAml) {

    /** The largest vCPU count an xAPIC MADT can describe: APIC ids 0-254. */
    public static final int MAX_VCPUS = 255;

    public AcpiConfig {
        if (oem == null || ioApic == null || powerRegisters == null || platform == null) {
            throw new AcpiConfigException("ACPI config: oem, ioApic, powerRegisters and platform"
                    + " must all be given.");
        }
        if (vcpuCount < 1 || vcpuCount > MAX_VCPUS) {
            throw new AcpiConfigException("vCPU count " + vcpuCount + " cannot be described by"
                    + " the MADT; choose 1 to " + MAX_VCPUS + " vCPUs.");
        }
        if (localApicAddress < 0 || localApicAddress > 0xffff_ffffL) {
            throw new AcpiConfigException("local APIC address 0x" + Long.toHexString(
                    localApicAddress) + " does not fit the MADT's 32-bit field; use 0xfee00000.");
        }
        interruptOverrides = List.copyOf(interruptOverrides);
        serialPorts = List.copyOf(serialPorts);
        ecamRegions = List.copyOf(ecamRegions);
        List<byte[]> copies = new ArrayList<>();
        for (byte[] aml : extraDeviceAml) {
            copies.add(aml.clone());
        }
        extraDeviceAml = List.copyOf(copies);
        if (serialPorts.size() > 9) {
            throw new AcpiConfigException(serialPorts.size() + " serial ports configured; the"
                    + " DSDT names them COM1-COM9, so use at most 9.");
        }
    }

    /** Copies of the extra AML blocks (arrays are mutable). */
    @Override
    public List<byte[]> extraDeviceAml() {
        List<byte[]> copies = new ArrayList<>();
        for (byte[] aml : extraDeviceAml) {
            copies.add(aml.clone());
        }
        return copies;
    }

    /**
     * OEM identification in every table header (ACPI 6.5 §5.2.6): OEMID up to 6 ASCII
     * characters, OEM Table ID up to 8, and an OEM revision. Shorter ids are space-padded.
     */
    public record OemIds(String oemId, String oemTableId, long oemRevision) {
        public OemIds {
            checkAscii("OEM id", oemId, 6);
            checkAscii("OEM table id", oemTableId, 8);
            if (oemRevision < 0 || oemRevision > 0xffff_ffffL) {
                throw new AcpiConfigException("OEM revision " + oemRevision
                        + " does not fit 32 bits.");
            }
        }
    }

    /** The IOAPIC: its APIC id, MMIO address and the first GSI it serves (MADT §5.2.12.3). */
    public record IoApic(int id, long address, long gsiBase) {
        public IoApic {
            if (id < 0 || id > 0xff) {
                throw new AcpiConfigException("IOAPIC id " + id + " does not fit 8 bits.");
            }
            if (address < 0 || address > 0xffff_ffffL || gsiBase < 0 || gsiBase > 0xffff_ffffL) {
                throw new AcpiConfigException("IOAPIC address 0x" + Long.toHexString(address)
                        + " or GSI base " + gsiBase + " does not fit 32 bits; use 0xfec00000"
                        + " and 0.");
            }
        }
    }

    /**
     * Interrupt Source Override (MADT §5.2.12.5): ISA {@code irq} arrives at {@code gsi} with the
     * given polarity and trigger mode (MPS INTI flags, §5.2.12.5).
     */
    public record InterruptOverride(int irq, long gsi, Polarity polarity, Trigger trigger) {
        public InterruptOverride {
            if (irq < 0 || irq > 15) {
                throw new AcpiConfigException("interrupt override source " + irq
                        + " is not an ISA IRQ 0-15.");
            }
            if (gsi < 0 || gsi > 0xffff_ffffL) {
                throw new AcpiConfigException("interrupt override GSI " + gsi
                        + " does not fit 32 bits.");
            }
        }

        /** MPS INTI flags: polarity in bits 1-0, trigger mode in bits 3-2. */
        int flags() {
            return polarity.bits | (trigger.bits << 2);
        }
    }

    /** MPS INTI polarity (ACPI 6.5 §5.2.12.5): 00 conforms to the bus, 01 high, 11 low. */
    public enum Polarity {
        CONFORMS(0), ACTIVE_HIGH(1), ACTIVE_LOW(3);

        final int bits;

        Polarity(int bits) {
            this.bits = bits;
        }
    }

    /** MPS INTI trigger mode (ACPI 6.5 §5.2.12.5): 00 conforms to the bus, 01 edge, 11 level. */
    public enum Trigger {
        CONFORMS(0), EDGE(1), LEVEL(3);

        final int bits;

        Trigger(int bits) {
            this.bits = bits;
        }
    }

    /** A 16550 UART at {@code ioBase} (8 ports) on ISA {@code irq}. */
    public record SerialPort(int ioBase, int irq) {
        public SerialPort {
            if (ioBase < 0 || ioBase > 0xfff8) {
                throw new AcpiConfigException("serial port base 0x" + Integer.toHexString(ioBase)
                        + " is not an I/O port with 8 ports above it.");
            }
            if (irq < 0 || irq > 15) {
                throw new AcpiConfigException("serial port IRQ " + irq
                        + " is not an ISA IRQ 0-15.");
            }
        }
    }

    /**
     * The hardware-reduced power registers (ACPI 6.5 §4.8.3.7, §4.8.3.8, §4.8.3.6): one-byte I/O
     * ports for sleep control, sleep status and reset, the value OSPM writes to reset, and the
     * SLP_TYP the DSDT's {@code \_S5} names for soft-off.
     */
    public record PowerRegisters(int sleepControlPort, int sleepStatusPort, int resetPort,
            int resetValue, int s5SleepType) {
        public PowerRegisters {
            for (int port : new int[] {sleepControlPort, sleepStatusPort, resetPort}) {
                if (port <= 0 || port > 0xffff) {
                    throw new AcpiConfigException("power register port 0x"
                            + Integer.toHexString(port) + " is not an I/O port 1-0xffff.");
                }
            }
            if (resetValue < 0 || resetValue > 0xff) {
                throw new AcpiConfigException("reset value " + resetValue
                        + " does not fit the one-byte FADT RESET_VALUE.");
            }
            if (s5SleepType < 0 || s5SleepType > 7) {
                throw new AcpiConfigException("S5 sleep type " + s5SleepType + " does not fit the"
                        + " 3-bit SLP_TYP field (ACPI 6.5 §4.8.3.7); use 0-7.");
            }
        }

        /**
         * The three registers on consecutive ports from {@code base} in the order sleep control,
         * sleep status, reset: the register order of the devices module's AcpiPowerDevice.
         */
        public static PowerRegisters consecutive(int base, int resetValue, int s5SleepType) {
            return new PowerRegisters(base, base + 1, base + 2, resetValue, s5SleepType);
        }
    }

    /**
     * Which legacy PC devices the platform has, for the FADT IAPC_BOOT_ARCH flags (ACPI 6.5
     * §5.2.9.3). Linux reads these at boot: without the 8042 flag it marks the i8042 absent;
     * with "CMOS RTC not present" it registers no RTC platform device; "VGA not present" keeps
     * it from probing VGA ports.
     */
    public record Platform(boolean i8042, boolean cmosRtc, boolean vga) {
    }

    /**
     * One MCFG allocation (PCI Firmware Specification 3.x, §4.1.2): the ECAM base of PCI segment
     * {@code segment} covering buses {@code startBus}..{@code endBus} (1 MiB per bus).
     */
    public record EcamRegion(long baseAddress, int segment, int startBus, int endBus) {
        public EcamRegion {
            if (segment < 0 || segment > 0xffff) {
                throw new AcpiConfigException("PCI segment " + segment + " does not fit 16 bits.");
            }
            if (startBus < 0 || endBus > 0xff || startBus > endBus) {
                throw new AcpiConfigException("ECAM bus range " + startBus + "-" + endBus
                        + " is not within 0-255 with start <= end.");
            }
            if ((baseAddress & ((1L << 20) - 1)) != 0) {
                throw new AcpiConfigException("ECAM base 0x" + Long.toHexString(baseAddress)
                        + " is not 1 MiB aligned (each bus takes 1 MiB of ECAM space).");
            }
        }
    }

    static void checkAscii(String what, String value, int maxLength) {
        if (value == null || value.isEmpty() || value.length() > maxLength) {
            throw new AcpiConfigException(what + " \"" + value + "\" must be 1 to " + maxLength
                    + " characters.");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                throw new AcpiConfigException(what + " \"" + value + "\" must be printable ASCII.");
            }
        }
    }
}
