package dev.ristretto.devices.acpi;

import dev.ristretto.vmm.device.BusDevice;
import dev.ristretto.vmm.device.PowerControl;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;

/**
 * The hardware-reduced ACPI power registers (ACPI 6.5 §4.8.3.6-8) on three consecutive one-byte
 * I/O ports, described to the guest by the FADT's SLEEP_CONTROL_REG, SLEEP_STATUS_REG and
 * RESET_REG (firmware module, {@code AcpiConfig.PowerRegisters.consecutive}):
 * <pre>
 * offset 0  Sleep Control: bits 4-2 SLP_TYPx, bit 5 SLP_EN (write-only; reads 0)
 * offset 1  Sleep Status:  bit 7 WAK_STS (write 1 to clear)
 * offset 2  Reset:         writing the FADT RESET_VALUE resets the machine
 * </pre>
 *
 * <p>Port choice: {@link #SUGGESTED_BASE} 0x600. The often-cited 0x3C0 lies inside the VGA
 * register block 0x3C0-0x3DF that vgacon and the VGA arbiter touch; 0x600-0x602 is claimed by no
 * ISA device Linux probes (PIC 0x20/0xA0, PIT 0x40, i8042 0x60/0x64, RTC 0x70, POST 0x80, DMA,
 * serial 0x2E8-0x3FF, parallel 0x278/0x378/0x3BC, VGA, IDE 0x170/0x1F0, floppy 0x3F0, PCI 0xCF8)
 * and lies below 0x1000, where Linux places no PCI I/O BARs (PCIBIOS_MIN_IO). The machine's
 * layout decides; this constant only records the reasoning.
 *
 * <p>Sleep: Linux writes SLP_TYP | SLP_EN after clearing WAK_STS and, for any state but S5, polls
 * WAK_STS until the platform wakes (ACPICA {@code acpi_hw_extended_sleep}). SLP_TYP equal to the
 * DSDT's {@code \_S5} value powers off. We offer no other sleep state (the DSDT has no \_S1-\_S4),
 * so a request for one is guest misbehaviour: it is logged and counted, and the platform "wakes"
 * at once, setting WAK_STS, which §4.8.3.8 defines as set when the system returns to working
 * state; without that, a guest polling WAK_STS would spin forever.
 */
public final class AcpiPowerDevice implements BusDevice {

    private static final Logger LOG = System.getLogger(AcpiPowerDevice.class.getName());

    public static final int SLEEP_CONTROL_OFFSET = 0;
    public static final int SLEEP_STATUS_OFFSET = 1;
    public static final int RESET_OFFSET = 2;
    /** Ports the device occupies on the I/O bus. */
    public static final int PORT_COUNT = 3;
    /** Where the machine should put the registers unless it has reason not to (see above). */
    public static final int SUGGESTED_BASE = 0x600;

    /** Sleep Control Register, §4.8.3.7: SLP_TYPx in bits 4-2, SLP_EN in bit 5. */
    static final int SLP_TYP_SHIFT = 2;
    static final int SLP_TYP_MASK = 0x7;
    static final int SLP_EN = 1 << 5;
    /** Sleep Status Register, §4.8.3.8: WAK_STS in bit 7. */
    static final int WAK_STS = 1 << 7;

    /** Source name passed to {@link PowerControl}. */
    public static final String SOURCE = "acpi";

    private final PowerControl power;
    private final int s5SleepType;
    private final int resetValue;

    private int sleepStatus;
    private long ignoredAccesses;

    /**
     * @param power       what a power-off or reset request goes to
     * @param s5SleepType the SLP_TYP value of the DSDT's \_S5 package (0-7)
     * @param resetValue  the FADT RESET_VALUE (0-255)
     */
    public AcpiPowerDevice(PowerControl power, int s5SleepType, int resetValue) {
        if (s5SleepType < 0 || s5SleepType > SLP_TYP_MASK) {
            throw new IllegalArgumentException("S5 sleep type " + s5SleepType
                    + " does not fit the 3-bit SLP_TYP field (ACPI 6.5 §4.8.3.7); use 0-7.");
        }
        if (resetValue < 0 || resetValue > 0xff) {
            throw new IllegalArgumentException("ACPI reset value " + resetValue
                    + " does not fit the one-byte reset register; use 0-255.");
        }
        this.power = power;
        this.s5SleepType = s5SleepType;
        this.resetValue = resetValue;
    }

    @Override
    public synchronized void read(long offset, byte[] data) {
        java.util.Arrays.fill(data, (byte) 0);
        if (data.length != 1) {
            misbehaved("read of " + data.length + " bytes at offset " + offset
                    + "; the registers are one byte wide");
            return;
        }
        if (offset == SLEEP_STATUS_OFFSET) {
            data[0] = (byte) sleepStatus;
        }
        // Sleep control and reset are write-only; they read as zero.
    }

    @Override
    public void write(long offset, byte[] data) {
        boolean powerOff = false;
        boolean reset = false;
        synchronized (this) {
            if (data.length != 1) {
                misbehaved("write of " + data.length + " bytes at offset " + offset
                        + "; the registers are one byte wide");
                return;
            }
            int value = data[0] & 0xff;
            if (offset == SLEEP_CONTROL_OFFSET) {
                if ((value & SLP_EN) != 0) {
                    int type = (value >>> SLP_TYP_SHIFT) & SLP_TYP_MASK;
                    if (type == s5SleepType) {
                        powerOff = true;
                    } else {
                        misbehaved("sleep requested with SLP_TYP " + type + "; only S5 (SLP_TYP "
                                + s5SleepType + ") is offered, so the guest wakes at once");
                        sleepStatus |= WAK_STS;
                    }
                }
                // SLP_TYP without SLP_EN only stages the type (§4.8.3.7): nothing happens.
            } else if (offset == SLEEP_STATUS_OFFSET) {
                if ((value & WAK_STS) != 0) {
                    sleepStatus &= ~WAK_STS; // write-1-to-clear (§4.8.3.8)
                }
            } else if (offset == RESET_OFFSET) {
                if (value == resetValue) {
                    reset = true;
                } else {
                    misbehaved("reset register written with 0x" + Integer.toHexString(value)
                            + " instead of the RESET_VALUE 0x" + Integer.toHexString(resetValue));
                }
            } else {
                misbehaved("write at offset " + offset + " beyond the three registers");
            }
        }
        // Call out of the lock: the machine may stop vCPUs, which must not wait on this device.
        if (powerOff) {
            power.requestPowerOff(SOURCE);
        }
        if (reset) {
            power.requestReset(SOURCE);
        }
    }

    /** Guest accesses that were ignored (bad width, offset, value or sleep type). */
    public synchronized long ignoredAccesses() {
        return ignoredAccesses;
    }

    private void misbehaved(String what) {
        ignoredAccesses++;
        LOG.log(Level.DEBUG, "ACPI power registers: guest " + what);
    }
}
