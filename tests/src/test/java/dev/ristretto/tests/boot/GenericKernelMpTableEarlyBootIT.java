package dev.ristretto.tests.boot;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Debian's generic kernel (X86_MPPARSE=y) with {@code --acpi off} and two vCPUs: on top of
 * {@link EarlyBoot}'s checks, the kernel finds our Intel MP table (MP spec 1.4) in the BIOS area
 * and takes its processors and its IOAPIC from it, with no ACPI tables to be found.
 */
class GenericKernelMpTableEarlyBootIT extends EarlyBoot {

    @Override
    String flavour() {
        return "generic";
    }

    @Override
    List<String> options() {
        return List.of("--cpus", "2", "--acpi", "off");
    }

    @Test
    void kernelFindsOurMpTable() {
        assertTrue(serial.contains("found SMP MP-table at [mem 0x000f0000-0x000f000f]"), "see " + logDir);
        assertTrue(serial.contains("Intel MultiProcessor Specification v1.4"), "see " + logDir);
        assertTrue(serial.contains("MPTABLE: OEM ID: RSTRTO"), "see " + logDir);
        assertTrue(serial.contains("MPTABLE: Product ID: RISTRETTO"), "see " + logDir);
        assertTrue(serial.contains("MPTABLE: APIC at: 0xFEE00000"), "see " + logDir);
    }

    @Test
    void kernelTakesTwoProcessorsAndTheIoapicFromIt() {
        assertTrue(serial.contains("Processor #0 (Bootup-CPU)"), "see " + logDir);
        assertTrue(serial.contains("Processor #1"), "see " + logDir);
        assertTrue(serial.contains("IOAPIC[0]: apic_id 0, version 17, address 0xfec00000, GSI 0-23"), "see " + logDir);
        assertTrue(serial.contains("smpboot: Allowing 2 CPUs, 0 hotplug CPUs"), "see " + logDir);
    }

    @Test
    void noAcpiTablesAreOffered() {
        assertFalse(serial.lines().anyMatch(l -> l.contains("ACPI: RSDP ")), "ACPI tables with --acpi off; see " + logDir);
    }
}
