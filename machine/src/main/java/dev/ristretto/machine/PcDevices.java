package dev.ristretto.machine;

import dev.ristretto.devices.acpi.AcpiPowerDevice;
import dev.ristretto.devices.i8042.I8042;
import dev.ristretto.devices.legacy.PostCodePort;
import dev.ristretto.devices.rtc.CmosRtc;
import dev.ristretto.devices.serial.Serial16550;
import dev.ristretto.devices.serial.SerialSink;
import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.device.IrqLine;
import dev.ristretto.vmm.device.PowerControl;
import java.time.Clock;
import java.util.Optional;
import java.util.function.IntFunction;

/**
 * The legacy PC devices on the I/O-port bus, at the ports and ISA IRQs every PC has (and Linux
 * probes without being told): COM1 0x3f8/IRQ4, i8042 0x60 and 0x64 / IRQ1 and IRQ12, CMOS RTC
 * 0x70-0x71, the POST diagnostic port 0x80 (Linux's {@code outb_p} delay writes there). Port 0x61
 * (NMI status / speaker gate) is served by KVM's in-kernel PIT, created with
 * KVM_PIT_SPEAKER_DUMMY (api.rst §4.71). With ACPI, the hardware-reduced sleep control/status and
 * reset registers the FADT points at (ACPI 6.5 §4.8.3.7) sit at {@link AcpiPowerDevice#SUGGESTED_BASE}.
 */
record PcDevices(Serial16550 com1, I8042 i8042, CmosRtc rtc, PostCodePort postCode, Optional<AcpiPowerDevice> acpi) {

    static PcDevices create(IntFunction<IrqLine> irqs, SerialSink serialOut, PowerControl power, Clock clock,
                            long ramBelow4g, long ramAbove4g, boolean withAcpi) {
        return new PcDevices(
                new Serial16550(irqs.apply(Serial16550.COM1_IRQ), serialOut),
                new I8042(irqs.apply(I8042.KEYBOARD_IRQ), irqs.apply(I8042.AUX_IRQ), power),
                new CmosRtc(clock, ramBelow4g, ramAbove4g),
                new PostCodePort(),
                withAcpi ? Optional.of(new AcpiPowerDevice(power, PlatformTables.S5_SLEEP_TYPE, PlatformTables.RESET_VALUE))
                        : Optional.empty());
    }

    /** Adds every device to the I/O-port bus being built. */
    Bus.Builder register(Bus.Builder io) {
        acpi.ifPresent(d -> io.insert(AcpiPowerDevice.SUGGESTED_BASE, AcpiPowerDevice.PORT_COUNT, "acpi-power", d));
        return io.insert(Serial16550.COM1_PORT, Serial16550.PORT_COUNT, "com1", com1)
                .insert(I8042.DATA_PORT, 1, "i8042-data", i8042.dataPort())
                .insert(I8042.COMMAND_PORT, 1, "i8042-command", i8042.commandPort())
                .insert(CmosRtc.INDEX_PORT, CmosRtc.PORT_COUNT, "cmos-rtc", rtc)
                .insert(PostCodePort.PORT, PostCodePort.PORT_COUNT, "post-code", postCode);
    }
}
