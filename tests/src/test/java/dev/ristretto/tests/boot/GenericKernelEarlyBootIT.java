package dev.ristretto.tests.boot;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.tests.nested.GuestImages;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Debian's generic kernel (X86_MPPARSE=y) with {@code --acpi off} and two vCPUs, booted from the
 * uncompressed {@code vmlinux} inside its bzImage through the PVH entry Ristretto picks for an ELF
 * with the PVH note: the XZ decompressor, minutes of emulated code on an emulation-only KVM, is
 * skipped. On top of {@link EarlyBoot}'s checks: the kernel finds our MP
 * table with our OEM id and both processors in it, and sees no ACPI at all.
 */
class GenericKernelEarlyBootIT extends EarlyBoot {

    @Override
    String flavour() {
        return "generic";
    }

    @Override
    Path kernelFile(GuestImages.Kernel kernel) {
        return kernel.vmlinux();
    }

    @Override
    List<String> options() {
        return List.of("--cpus", "2", "--acpi", "off");
    }

    @Test
    void bannerIsTheGenericKernels() {
        assertTrue(serial.lines().anyMatch(l -> l.contains("Linux version 6.1.") && !l.contains("cloud-amd64")),
                serial.lines().findFirst().orElse(""));
    }

    @Test
    void kernelFindsOurMpTableAndBothProcessors() {
        assertTrue(serial.contains("Intel MultiProcessor Specification v1.4"), "see " + logDir);
        assertTrue(serial.contains("MPTABLE: OEM ID: RSTRTO"), "see " + logDir);
        assertTrue(serial.contains("MPTABLE: Product ID: RISTRETTO"), "see " + logDir);
        assertTrue(serial.contains("smpboot: Allowing 2 CPUs, 0 hotplug CPUs"), "see " + logDir);
    }

    @Test
    void kernelSeesNoAcpiTables() {
        assertFalse(serial.lines().anyMatch(l -> l.contains("ACPI: RSDP")), "see " + logDir);
    }
}
