package dev.ristretto.firmware.acpi;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Fixed ACPI Description Table, revision 6.5 (ACPI 6.5 §5.2.9), signature "FACP",
 * describing a <em>hardware-reduced</em> ACPI platform (§4.1): no PM1 event/control blocks, no
 * PM timer, no GPE blocks and no SMI command port. Instead:
 * <ul>
 * <li>soft-off goes through the Sleep Control and Sleep Status registers (§4.8.3.7, §4.8.3.8)
 *     named by SLEEP_CONTROL_REG / SLEEP_STATUS_REG, which Linux uses only in this mode
 *     (ACPICA {@code acpi_hw_extended_sleep});</li>
 * <li>reboot goes through RESET_REG / RESET_VALUE (§4.8.3.6) with the RESET_REG_SUP flag;</li>
 * <li>there is no FACS: "If the HARDWARE_REDUCED_ACPI flag is set, and both this field
 *     [FIRMWARE_CTRL] and the X_FIRMWARE_CTRL field are zero, there is no FACS available"
 *     (§5.2.9, FIRMWARE_CTRL), so both stay zero; the FACS only carries the global lock and waking
 *     vectors of sleep states we do not offer.</li>
 * </ul>
 * Only X_DSDT is filled: DSDT (32-bit) stays zero, as §5.2.9 asks that at most one be used.
 */
public final class Fadt {

    public static final int SIZE = 276;
    public static final int MAJOR_REVISION = 6;
    public static final int MINOR_REVISION = 5;

    // Field offsets, §5.2.9 (FADT format).
    public static final int FIRMWARE_CTRL_OFFSET = 36;
    public static final int DSDT_OFFSET = 40;
    public static final int PREFERRED_PM_PROFILE_OFFSET = 45;
    public static final int SCI_INT_OFFSET = 46;
    public static final int SMI_CMD_OFFSET = 48;
    public static final int PM1A_EVT_BLK_OFFSET = 56;
    public static final int IAPC_BOOT_ARCH_OFFSET = 109;
    public static final int FLAGS_OFFSET = 112;
    public static final int RESET_REG_OFFSET = 116;
    public static final int RESET_VALUE_OFFSET = 128;
    public static final int MINOR_VERSION_OFFSET = 131;
    public static final int X_FIRMWARE_CTRL_OFFSET = 132;
    public static final int X_DSDT_OFFSET = 140;
    public static final int SLEEP_CONTROL_REG_OFFSET = 244;
    public static final int SLEEP_STATUS_REG_OFFSET = 256;
    public static final int HYPERVISOR_VENDOR_IDENTITY_OFFSET = 268;

    // Fixed feature flags, §5.2.9.1.
    /** Power button is a control-method device (PNP0C0C in the DSDT), not fixed hardware. */
    public static final int FLAG_PWR_BUTTON = 1 << 4;
    /** There is no sleep button (a fixed-hardware one would need PM1 registers). */
    public static final int FLAG_SLP_BUTTON = 1 << 5;
    /** RESET_REG describes a working reset register. */
    public static final int FLAG_RESET_REG_SUP = 1 << 10;
    /** ACPI hardware-reduced platform (§4.1). */
    public static final int FLAG_HW_REDUCED_ACPI = 1 << 20;

    // IA-PC boot architecture flags, §5.2.9.3.
    public static final int BOOT_ARCH_8042 = 1 << 1;
    public static final int BOOT_ARCH_VGA_NOT_PRESENT = 1 << 2;
    public static final int BOOT_ARCH_CMOS_RTC_NOT_PRESENT = 1 << 5;

    /** Generic Address Structure size (§5.2.3.2). */
    public static final int GAS_SIZE = 12;
    /** GAS Address Space ID 1: System I/O (§5.2.3.2). */
    public static final int GAS_SYSTEM_IO = 1;
    /** GAS Access Size 1: byte access (§5.2.3.2). */
    public static final int GAS_ACCESS_BYTE = 1;

    private Fadt() {
    }

    public static byte[] build(AcpiConfig config, long dsdtAddress) {
        ByteBuffer b = ByteBuffer.allocate(SIZE - Sdt.HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        // FIRMWARE_CTRL, DSDT, SCI_INT, SMI_CMD, all PM/GPE blocks and their lengths stay 0:
        // hardware-reduced ACPI has none of them (§4.1 and the notes on each field in §5.2.9).
        // SCI_INT is unused too: Linux sets up no SCI on hardware-reduced platforms
        // (arch/x86/kernel/acpi/boot.c, acpi_parse_madt_ioapic_entries).
        AcpiConfig.Platform p = config.platform();
        int bootArch = (p.i8042() ? BOOT_ARCH_8042 : 0)
                | (p.vga() ? 0 : BOOT_ARCH_VGA_NOT_PRESENT)
                | (p.cmosRtc() ? 0 : BOOT_ARCH_CMOS_RTC_NOT_PRESENT);
        b.putShort(IAPC_BOOT_ARCH_OFFSET - Sdt.HEADER_SIZE, (short) bootArch);
        b.putInt(FLAGS_OFFSET - Sdt.HEADER_SIZE,
                FLAG_PWR_BUTTON | FLAG_SLP_BUTTON | FLAG_RESET_REG_SUP | FLAG_HW_REDUCED_ACPI);
        AcpiConfig.PowerRegisters regs = config.powerRegisters();
        putByteIoPort(b, RESET_REG_OFFSET, regs.resetPort());
        b.put(RESET_VALUE_OFFSET - Sdt.HEADER_SIZE, (byte) regs.resetValue());
        b.put(MINOR_VERSION_OFFSET - Sdt.HEADER_SIZE, (byte) MINOR_REVISION);
        b.putLong(X_DSDT_OFFSET - Sdt.HEADER_SIZE, dsdtAddress);
        putByteIoPort(b, SLEEP_CONTROL_REG_OFFSET, regs.sleepControlPort());
        putByteIoPort(b, SLEEP_STATUS_REG_OFFSET, regs.sleepStatusPort());
        return Sdt.table("FACP", MAJOR_REVISION, config.oem(), b.array());
    }

    /**
     * A GAS (§5.2.3.2) for an 8-bit register at an I/O port: space System I/O, bit width 8, bit
     * offset 0, byte access. ACPICA requires exactly this shape for the reset register
     * (Linux {@code acpi_reboot} ignores a RESET_REG whose width is not 8 or offset not 0).
     */
    private static void putByteIoPort(ByteBuffer b, int tableOffset, int port) {
        int at = tableOffset - Sdt.HEADER_SIZE;
        b.put(at, (byte) GAS_SYSTEM_IO);
        b.put(at + 1, (byte) 8);
        b.put(at + 2, (byte) 0);
        b.put(at + 3, (byte) GAS_ACCESS_BYTE);
        b.putLong(at + 4, port);
    }
}
