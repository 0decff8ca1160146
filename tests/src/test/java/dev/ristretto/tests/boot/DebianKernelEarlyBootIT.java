package dev.ristretto.tests.boot;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Debian's cloud kernel (X86_MPPARSE=n: CPUs and interrupt controllers only through ACPI) with
 * two vCPUs: on top of {@link EarlyBoot}'s checks, the kernel lists our ACPI tables with our OEM id
 * and allows the two CPUs of our MADT.
 */
class DebianKernelEarlyBootIT extends EarlyBoot {

    @Override
    String flavour() {
        return "cloud";
    }

    @Override
    List<String> options() {
        return List.of("--cpus", "2");
    }

    @Test
    void bannerIsTheCloudKernels() {
        assertTrue(serial.contains("cloud-amd64"), serial.lines().findFirst().orElse(""));
    }

    @Test
    void kernelListsOurAcpiTables() {
        for (String sig : new String[] {"RSDP", "XSDT", "FACP", "APIC", "DSDT", "MCFG"}) {
            assertTrue(serial.lines().anyMatch(l -> l.contains("ACPI: " + sig + " ") && l.contains("RSTRTO")),
                    "no 'ACPI: " + sig + "' line with our OEM id; see " + logDir);
        }
    }

    @Test
    void kernelAllowsTheTwoCpusOfTheMadt() {
        assertTrue(serial.contains("smpboot: Allowing 2 CPUs, 0 hotplug CPUs"), "see " + logDir);
    }
}
