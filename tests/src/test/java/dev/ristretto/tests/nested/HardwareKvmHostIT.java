package dev.ristretto.tests.nested;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The harness's self-test and the model for Ristretto's own full-boot tests: with
 * hardware-semantics KVM (this host's, or L1's on a PVM host) QEMU + KVM boots Debian's cloud
 * kernel with the guest initramfs to its RISTRETTO-GUEST-UP marker and powers off.
 *
 * <p>One L1 boot serves every assertion ({@link #bootOnce}). The scratch directory under
 * target/ keeps the command's output, L1's console and dmesg, and the L2 console, for reading
 * after a failure.
 */
@NeedsHardwareKvm
class HardwareKvmHostIT {

    private static final Pattern GUEST_UP = Pattern.compile("RISTRETTO-GUEST-UP kernel=(\\S+) cpus=(\\d+)");
    private static final Pattern L2_WALL = Pattern.compile("L2-WALL-MS=(\\d+)");
    private static final Pattern L2_STATUS = Pattern.compile("L2-QEMU-STATUS=(\\d+)");

    private static GuestImages.Kernel kernel;
    private static ExecResult run;

    @BeforeAll
    static void bootOnce() throws Exception {
        // L2 is launched with QEMU, on this host too when its KVM is hardware-backed.
        HostTools.assumeInstalled(HostTools.L1_TOOLS);
        Path initramfs;
        try {
            kernel = GuestImages.cloudKernel();
            initramfs = GuestImages.guestInitramfs();
        } catch (DebianArchiveUnreachableException e) {
            assumeTrue(false, e.getMessage());
            return;
        }
        Path scratch = Path.of("target", "nested-it", "HardwareKvmHostIT").toAbsolutePath();
        // The command is what a boot test runs; the shell around it only adds the checks and the
        // timing this self-test reports. QEMU's stdio is the L2 serial console (-nographic).
        String script = String.join("\n",
                "if [ -c /dev/kvm ]; then echo DEV-KVM=present; else echo DEV-KVM=missing; fi",
                "echo \"WORKDIR=$PWD\"",
                "echo \"CPU-FLAGS= $(grep -o -w -E 'vmx|svm|npt|ept' /proc/cpuinfo | sort -u | tr '\\n' ' ')\"",
                "echo \"KVM-VENDOR-MODULE= $(cd /sys/module && ls -d kvm_amd kvm_intel 2>/dev/null | tr '\\n' ' ')\"",
                "t0=$(date +%s%N)",
                "timeout 240 qemu-system-x86_64 -enable-kvm -cpu host -M q35 -m 512M -nographic -no-reboot"
                        + " -kernel \"$1\" -initrd \"$2\" -append 'console=ttyS0 ristretto.action=poweroff' </dev/null",
                "status=$?",
                "t1=$(date +%s%N)",
                "echo \"L2-QEMU-STATUS=$status\"",
                "echo \"L2-WALL-MS=$(( (t1 - t0) / 1000000 ))\"",
                "exit $status");
        run = HardwareKvmHost.exec(
                List.of("bash", "-c", script, "l2-boot", kernel.vmlinuz().toString(), initramfs.toString()),
                Duration.ofMinutes(8),
                scratch);
        System.out.printf("HardwareKvmHostIT: %s%n", run.summary());
        assumeFalse(run.outcome() == ExecResult.Outcome.NO_KERNEL, run.diagnostics().strip());
        run.find(L2_WALL).ifPresent(m -> System.out.printf(
                "HardwareKvmHostIT: L2 boot (QEMU start to power-off inside %s) %.1f s%n",
                run.mode(), Long.parseLong(m.group(1)) / 1000.0));
    }

    @Test
    void commandExitsNormally() {
        assertEquals(ExecResult.Outcome.EXITED, run.outcome(), run.summary());
        assertEquals(0, run.exitCode(), run.summary());
    }

    @Test
    void devKvmExistsWhereTheCommandRuns() {
        assertTrue(run.printed("DEV-KVM=present"), "no /dev/kvm: " + run.summary());
    }

    @Test
    void commandRunsInTheCallersWorkingDirectory() {
        assertTrue(run.printed("WORKDIR=" + Path.of("").toAbsolutePath()), run.summary());
    }

    @Test
    void cloudKernelReachesTheGuestMarkerWithItsVersion() {
        Matcher up = run.find(GUEST_UP).orElseThrow(() -> new AssertionError(
                "the L2 guest never printed RISTRETTO-GUEST-UP: " + run.summary()));
        assertEquals(kernel.version(), up.group(1), "L2 ran another kernel than " + kernel.vmlinuz());
        assertEquals("1", up.group(2), "QEMU's default is one vCPU");
    }

    @Test
    void guestPowersOffAndQemuExitsCleanly() {
        Matcher status = run.find(L2_STATUS).orElseThrow(() -> new AssertionError(
                "the command did not report QEMU's status: " + run.summary()));
        assertEquals("0", status.group(1), "QEMU did not exit cleanly (124 = L2 did not power off): " + run.summary());
        assertTrue(run.printed("reboot: Power down"), "L2 did not power off: " + run.summary());
    }

    @Test
    void l1OffersSvmWithNestedPagingAndRunsKvmAmd() {
        assumeTrue(run.mode() == ExecResult.Mode.NESTED_L1, "the command ran directly on hardware KVM, not in L1");
        // QEMU TCG's -cpu max: SVM (CPUID Fn8000_0001 ECX[2]) and nested paging (Fn8000_000A EDX[0]),
        // AMD APM vol. 2, 15.4 and 15.25; without NPT kvm_amd falls back to slow shadow paging.
        String flags = run.find(Pattern.compile("CPU-FLAGS=(.*)")).orElseThrow().group(1);
        assertTrue(flags.contains(" svm ") && flags.contains(" npt "), "L1's CPU flags:" + flags);
        assertTrue(run.printed("KVM-VENDOR-MODULE= kvm_amd "), run.summary());
    }

    @Test
    void nestedRunsReportL1BootTimeAndKeepL1sConsole() {
        assumeTrue(run.mode() == ExecResult.Mode.NESTED_L1, "the command ran directly on hardware KVM, not in L1");
        assertTrue(run.l1Boot().isPresent(), run.summary());
        assertTrue(Files.isRegularFile(run.scratch().resolve("l1-console.log")), run.summary());
        assertTrue(Files.isRegularFile(run.scratch().resolve("l1-dmesg.log")), run.summary());
    }
}
