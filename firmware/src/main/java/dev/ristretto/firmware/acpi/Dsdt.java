package dev.ristretto.firmware.acpi;

import java.util.ArrayList;
import java.util.List;

/**
 * Differentiated System Description Table (ACPI 6.5 §5.2.11.1): a definition block of AML.
 * Revision 2, so AML integers are 64 bits wide. It holds:
 * <pre>
 * Scope (\_SB) {
 *     Device (COM1) { Name (_HID, EisaId ("PNP0501")) Name (_UID, 1) Method (_STA) {...}
 *                     Name (_CRS, ResourceTemplate () { IO (Decode16, 0x3F8, 0x3F8, 1, 8)
 *                                                       IRQNoFlags () {4} }) }
 *     Device (PWRB) { Name (_HID, EisaId ("PNP0C0C")) Name (_UID, 0) }
 *     ... the caller's extra devices ...
 * }
 * Name (_S5, Package () { SLP_TYP, 0 })
 * </pre>
 * Listing the UARTs lets Linux's 8250_pnp bind them with the right IRQ; \_S5 is what makes Linux
 * offer ACPI power-off at all ({@code acpi_sleep_state_supported(ACPI_STATE_S5)}).
 */
public final class Dsdt {

    public static final int REVISION = 2;
    /** _STA value: present, enabled, shown in UI, functioning (§6.3.7). */
    static final int STA_PRESENT_ENABLED_FUNCTIONING = 0x0f;

    private Dsdt() {
    }

    /** The AML body (everything after the header). */
    public static byte[] aml(AcpiConfig config) {
        List<byte[]> sb = new ArrayList<>();
        List<AcpiConfig.SerialPort> ports = config.serialPorts();
        for (int i = 0; i < ports.size(); i++) {
            AcpiConfig.SerialPort port = ports.get(i);
            sb.add(Aml.device("COM" + (i + 1),
                    Aml.hid("PNP0501"), // 16550A-compatible COM port
                    Aml.uid(i + 1),
                    Aml.sta(STA_PRESENT_ENABLED_FUNCTIONING),
                    Aml.crs(AmlResource.io(port.ioBase(), port.ioBase(), 1, 8),
                            AmlResource.irqNoFlags(port.irq()))));
        }
        // Control-method power button (§4.8.2.2.1.2); FADT flag PWR_BUTTON says there is no
        // fixed-hardware one.
        sb.add(Aml.device("PWRB", Aml.hid("PNP0C0C"), Aml.uid(0)));
        sb.addAll(config.extraDeviceAml());
        return Aml.terms(
                Aml.scope("\\_SB", Aml.array(sb)),
                Aml.s5(config.powerRegisters().s5SleepType(), 0));
    }

    public static byte[] build(AcpiConfig config) {
        return Sdt.table("DSDT", REVISION, config.oem(), aml(config));
    }
}
