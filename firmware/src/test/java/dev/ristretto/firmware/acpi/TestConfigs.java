package dev.ristretto.firmware.acpi;

import java.util.List;

/** The PC-shaped configuration the table tests build from. */
final class TestConfigs {

    static final AcpiConfig.OemIds OEM = new AcpiConfig.OemIds("RSTRTO", "RSTRTOVM", 1);
    static final int POWER_BASE = 0x600;
    static final int RESET_VALUE = 0x0f;
    static final int S5_TYPE = 5;

    private TestConfigs() {
    }

    static AcpiConfig pc(int vcpus) {
        return pc(vcpus, List.of(), List.of());
    }

    static AcpiConfig pc(int vcpus, List<AcpiConfig.EcamRegion> ecam, List<byte[]> extraAml) {
        return new AcpiConfig(OEM, vcpus, 0xfee0_0000L,
                new AcpiConfig.IoApic(0, 0xfec0_0000L, 0),
                List.of(new AcpiConfig.InterruptOverride(0, 2, AcpiConfig.Polarity.CONFORMS,
                                AcpiConfig.Trigger.CONFORMS),
                        new AcpiConfig.InterruptOverride(9, 9, AcpiConfig.Polarity.ACTIVE_HIGH,
                                AcpiConfig.Trigger.LEVEL)),
                List.of(new AcpiConfig.SerialPort(0x3f8, 4)),
                AcpiConfig.PowerRegisters.consecutive(POWER_BASE, RESET_VALUE, S5_TYPE),
                new AcpiConfig.Platform(true, true, false),
                ecam, extraAml);
    }
}
