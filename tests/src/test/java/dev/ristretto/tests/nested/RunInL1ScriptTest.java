package dev.ristretto.tests.nested;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The host side of guest-images/nested/run-in-l1.sh, against a stand-in for QEMU that speaks L1's
 * console protocol in a fraction of a second: the job script (quoting, environment, working
 * directory), the relay of COMMAND's output, exit-status parsing, and each failure outcome.
 * The real L1 is exercised by {@link HardwareKvmHostIT}.
 *
 * <p>The script still fetches L1's kernel and builds L1's initramfs before it starts "QEMU", so
 * these tests need Debian's archive once per machine (then the cache); without it they skip.
 */
class RunInL1ScriptTest {

    /**
     * Stands in for qemu-system-x86_64. Finds the scratch directory on the -append command line as
     * L1's init does, then behaves as FAKE_L1 says: run (execute the job on this host, as L1 would
     * in its chroot), no-kvm, panic, hang (still booting), or wedge (COMMAND started, then L1's
     * heartbeat stops).
     */
    private static final String FAKE_QEMU = """
            #!/bin/bash
            scratch=""
            for arg in "$@"; do
              for word in $arg; do
                case "$word" in ristretto.scratch=*) scratch=${word#ristretto.scratch=} ;; esac
              done
            done
            printf 'SeaBIOS (fake)\\r\\n[    0.000000] Linux version fake\\r\\n'
            case "${FAKE_L1:-run}" in
              run)
                echo "L1-COMMAND-START"
                bash "$scratch/.l1-job/job.sh" 2>&1 | sed 's/$/\\r/'
                status=${PIPESTATUS[0]}
                printf '\\r\\nL1-EXIT-STATUS=%d\\r\\n[    9.000000] reboot: Power down\\r\\n' "$status" ;;
              no-kvm)
                echo "L1-NO-KVM"
                echo "L1-DMESG: [    2.000000] kvm_amd: SVM not supported by CPU 0, not amd or hygon" ;;
              panic)
                echo "[    3.000000] Kernel panic - not syncing: VFS: Unable to mount root fs" ;;
              hang)
                echo "fake: L1 still booting"
                exec sleep 300 ;;
              wedge)
                # Starts COMMAND and its heartbeat as L1's init does, then freezes: no more beats.
                echo "L1-COMMAND-START"
                date +%s >"$scratch/.l1-job/heartbeat"
                echo "fake: L1 wedged"
                exec sleep 300 ;;
            esac
            """;

    @TempDir
    static Path temp;

    private static Path fakeQemu;

    @BeforeAll
    static void writeFakeQemu() throws IOException {
        HostTools.assumeInstalled(HostTools.IMAGE_TOOLS); // L1's initramfs is still built for real
        fakeQemu = temp.resolve("fake-qemu");
        Files.writeString(fakeQemu, FAKE_QEMU);
        Files.setPosixFilePermissions(fakeQemu, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private static ExecResult run(String mode, Duration timeout, Path scratch, String... command) throws Exception {
        ExecResult result = HardwareKvmHost.runInL1(Repository.script(HardwareKvmHost.RUN_IN_L1), List.of(command),
                timeout, scratch, Map.of("RISTRETTO_QEMU", fakeQemu.toString(), "FAKE_L1", mode));
        assumeFalse(result.outcome() == ExecResult.Outcome.NO_KERNEL, result.diagnostics().strip());
        return result;
    }

    @Test
    void relaysTheCommandsOutputAndExitStatus() throws Exception {
        ExecResult result = run("run", Duration.ofSeconds(60), temp.resolve("exit"),
                "sh", "-c", "echo out; echo err >&2; exit 7");
        assertEquals(ExecResult.Outcome.EXITED, result.outcome(), result.summary());
        assertEquals(7, result.exitCode(), result.summary());
        assertEquals(List.of("out", "err"), result.outputLines(), "only COMMAND's lines, without markers or \\r");
        assertTrue(result.l1Boot().isPresent(), result.summary());
        assertTrue(Files.readString(result.scratch().resolve("l1-console.log")).contains("Linux version fake"),
                "the whole console is kept");
        assertEquals(result.output(), Files.readString(result.scratch().resolve("command-output.log")));
    }

    @Test
    void passesArgumentsVerbatimWithTheCallersDirectoryAndEnvironment() throws Exception {
        ExecResult result = run("run", Duration.ofSeconds(60), temp.resolve("quoting"),
                "sh", "-c", "printf '<%s>' \"$@\"; echo; echo \"cwd=$PWD l1=$RISTRETTO_IN_L1 java=$JAVA_HOME\"",
                "argv0", "two words", "it's", "$HOME", "", "a\\b");
        assertEquals(0, result.exitCode(), result.summary());
        assertEquals("<two words><it's><$HOME><><a\\b>", result.outputLines().getFirst());
        String javaHome = System.getenv().getOrDefault("JAVA_HOME", System.getProperty("java.home"));
        assertEquals("cwd=" + Path.of("").toAbsolutePath() + " l1=1 java=" + javaHome, result.outputLines().get(1));
    }

    @Test
    void l1WithoutDevKvmIsReportedWithWhatDmesgSaid() throws Exception {
        ExecResult result = run("no-kvm", Duration.ofSeconds(60), temp.resolve("no-kvm"), "true");
        assertEquals(ExecResult.Outcome.NO_KVM_IN_L1, result.outcome(), result.summary());
        assertEquals(123, result.exitCode());
        assertTrue(result.diagnostics().contains("SVM not supported"), result.diagnostics());
    }

    @Test
    void l1DyingBeforeTheStatusIsACrashWithTheConsoleTail() throws Exception {
        ExecResult result = run("panic", Duration.ofSeconds(60), temp.resolve("panic"), "true");
        assertEquals(ExecResult.Outcome.L1_CRASHED, result.outcome(), result.summary());
        assertEquals(125, result.exitCode());
        assertTrue(result.diagnostics().contains("Kernel panic"), result.diagnostics());
    }

    @Test
    void commandOutlivingTheTimeoutKillsL1AndShowsHowFarItGot() throws Exception {
        long start = System.nanoTime();
        ExecResult result = run("hang", Duration.ofSeconds(2), temp.resolve("hang"), "true");
        assertEquals(ExecResult.Outcome.TIMED_OUT, result.outcome(), result.summary());
        assertEquals(124, result.exitCode());
        assertTrue(result.diagnostics().contains("fake: L1 still booting"), result.diagnostics());
        assertTrue(Duration.ofNanos(System.nanoTime() - start).toSeconds() < 60, "the kill took too long");
    }

    @Test
    void l1WhoseHeartbeatStopsIsKilledAsCrashedLongBeforeTheTimeout() throws Exception {
        long start = System.nanoTime();
        ExecResult result = HardwareKvmHost.runInL1(Repository.script(HardwareKvmHost.RUN_IN_L1), List.of("true"),
                Duration.ofSeconds(240), temp.resolve("wedge"),
                Map.of("RISTRETTO_QEMU", fakeQemu.toString(), "FAKE_L1", "wedge", "RISTRETTO_L1_HANG_S", "2"));
        assumeFalse(result.outcome() == ExecResult.Outcome.NO_KERNEL, result.diagnostics().strip());
        assertEquals(ExecResult.Outcome.L1_CRASHED, result.outcome(), result.summary());
        assertEquals(125, result.exitCode());
        assertTrue(result.diagnostics().contains("no heartbeat for over 2 s"), result.diagnostics());
        assertTrue(result.diagnostics().contains("fake: L1 wedged"), result.diagnostics());
        assertTrue(Duration.ofNanos(System.nanoTime() - start).toSeconds() < 60, "the hang was not noticed in time");
    }

    @Test
    void missingQemuSaysToRunInstallDeps() throws Exception {
        ExecResult result = HardwareKvmHost.runInL1(Repository.script(HardwareKvmHost.RUN_IN_L1), List.of("true"),
                Duration.ofSeconds(60), temp.resolve("no-qemu"), Map.of("RISTRETTO_QEMU", "/nonexistent/qemu"));
        assertEquals(ExecResult.Outcome.MISSING_TOOLS, result.outcome(), result.summary());
        assertEquals(121, result.exitCode());
        assertTrue(result.diagnostics().contains("guest-images/install-deps.sh"), result.diagnostics());
    }

    @Test
    void scratchPathsThatCannotTravelToL1AreRefused() throws Exception {
        ExecResult result = HardwareKvmHost.runInL1(Repository.script(HardwareKvmHost.RUN_IN_L1), List.of("true"),
                Duration.ofSeconds(60), temp.resolve("has space"), Map.of("RISTRETTO_QEMU", fakeQemu.toString()));
        assertEquals(ExecResult.Outcome.BAD_USAGE, result.outcome(), result.summary());
        assertEquals(120, result.exitCode());
        assertTrue(result.diagnostics().contains("has space"), result.diagnostics());
        assertFalse(result.succeeded());
    }
}
