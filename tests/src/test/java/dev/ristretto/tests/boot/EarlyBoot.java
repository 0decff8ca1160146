package dev.ristretto.tests.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ristretto.firmware.E820Entry;
import dev.ristretto.firmware.MemoryLayout;
import dev.ristretto.tests.nested.DebianArchiveUnreachableException;
import dev.ristretto.tests.nested.GuestImages;
import dev.ristretto.tests.nested.HostFacts;
import dev.ristretto.tests.nested.Repository;
import dev.ristretto.tests.support.RistrettoProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * One boot of a Debian kernel through the real command line on this host's /dev/kvm, shared by
 * every assertion of the subclass (emulated guest code is slow: the kernel needs tens of seconds
 * to get this far here), and the checks every such boot must pass: the banner, our exact command
 * line, our e820 map line by line, KVM detection, and how Ristretto ends the machine.
 *
 * <p>On a host whose KVM is software-emulated (PVM: no VMX/SVM flag) the kernel stops early at an
 * instruction KVM's emulator cannot run; Ristretto must report it with the diagnostic and exit
 * code 1. On hardware KVM the kernel, given no root file system and {@code panic=-1}, panics and
 * reboots, and Ristretto exits 0. The full boots to userspace are in the nested-host tests.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class EarlyBoot {
    static final String APPEND = "console=ttyS0 earlyprintk=serial panic=-1";
    private static final long MEMORY = 256L << 20;
    private static final Duration LIMIT = Duration.ofMinutes(6);

    RistrettoProcess.Outcome boot;
    String serial;
    Path logDir;
    private HostFacts host;

    /** The kernel to boot ({@code cloud} or {@code generic}). */
    abstract String flavour();

    /** The file given to --kernel: the bzImage unless a subclass boots the ELF inside it. */
    Path kernelFile(GuestImages.Kernel kernel) {
        return kernel.vmlinuz();
    }

    /** Options beyond kernel, memory, command line and serial. */
    abstract List<String> options();

    @BeforeAll
    void bootOnce() throws Exception {
        host = HostFacts.probe();
        assumeTrue(host.devKvmUsable(), "/dev/kvm is missing or not accessible to this user");
        GuestImages.Kernel kernel;
        try {
            kernel = flavour().equals("cloud") ? GuestImages.cloudKernel() : GuestImages.genericKernel();
        } catch (DebianArchiveUnreachableException e) {
            assumeTrue(false, e.getMessage());
            return;
        }
        logDir = Repository.targetDir("early-boot-" + getClass().getSimpleName());
        Path serialLog = logDir.resolve("serial.log");
        List<String> args = new ArrayList<>(List.of("run", "--kernel", kernelFile(kernel).toString(),
                "--memory", "256M", "--append", APPEND, "--serial", "file:" + serialLog));
        args.addAll(options());
        boot = RistrettoProcess.run(logDir, LIMIT, args.toArray(String[]::new));
        serial = Files.exists(serialLog) ? Files.readString(serialLog).replace("\r\n", "\n") : "";
        System.out.printf("Debian %s kernel under Ristretto %s: exit %d after %d s, %d bytes of serial output (logs in %s)%n",
                flavour(), options(), boot.exitCode(), boot.elapsed().toSeconds(), serial.length(), logDir);
    }

    @Test
    void kernelPrintsItsBanner() {
        assertTrue(serial.contains("Linux version 6.1."), "no banner in the serial log; see " + logDir);
    }

    @Test
    void kernelEchoesOurExactCommandLine() {
        assertTrue(serial.contains("] Command line: " + APPEND + "\n"), "command line not echoed exactly; see " + logDir);
    }

    @Test
    void kernelSeesOurE820MapLineByLine() {
        List<String> expected = new ArrayList<>();
        for (E820Entry e : MemoryLayout.forRam(MEMORY).e820()) {
            long last = e.start().value() + e.size() - 1;
            String type = switch (e.type()) {
                case RAM -> "usable";
                case RESERVED -> "reserved";
                case ACPI -> "ACPI data";
                case NVS -> "ACPI NVS";
            };
            expected.add(String.format(Locale.ROOT, "BIOS-e820: [mem 0x%016x-0x%016x] %s", e.start().value(), last, type));
        }
        List<String> seen = serial.lines().filter(l -> l.contains("BIOS-e820: "))
                .map(l -> l.substring(l.indexOf("BIOS-e820: "))).toList();
        assertEquals(expected, seen);
    }

    @Test
    void kernelDetectsKvm() {
        assertTrue(serial.contains("Hypervisor detected: KVM"), "see " + logDir);
    }

    @Test
    void ristrettoEndsTheMachineAsTheHostAllows() {
        assertFalse(boot.timedOut(), "Ristretto did not end within " + LIMIT + "; see " + logDir);
        if (host.classify().kind() == HostFacts.Kind.HARDWARE_KVM) {
            // No root file system: the kernel panics, panic=-1 reboots, the reboot ends Ristretto.
            assertEquals(0, boot.exitCode(), boot.stderr());
            assertFalse(boot.stderr().contains("\tat "), boot.stderr());
        } else {
            // Emulation-only KVM: the kernel reaches an instruction KVM's emulator cannot run.
            assertEquals(1, boot.exitCode(), boot.stderr());
            assertTrue(boot.stderr().contains("ristretto: vCPU 0: "), boot.stderr());
            assertTrue(boot.stderr().contains("RIP"), "register dump expected: " + boot.stderr());
            assertTrue(boot.stderr().toLowerCase(Locale.ROOT).contains("code"), "code bytes expected: " + boot.stderr());
            assertFalse(boot.stderr().contains("\tat "), "no stack trace for a guest failure: " + boot.stderr());
        }
    }
}
