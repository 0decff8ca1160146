package dev.ristretto.tests.nested;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Runs a command where /dev/kvm has hardware semantics: directly on this host when its KVM is
 * hardware-backed, otherwise inside L1, a Debian VM under QEMU TCG whose emulated SVM lets
 * kvm_amd load (guest-images/nested/run-in-l1.sh; see guest-images/nested/README.md).
 *
 * <p>Typical use, one L1 boot per test class:
 *
 * <pre>{@code
 * @NeedsHardwareKvm
 * class FullBootIT {
 *     @Test
 *     void boots() throws Exception {
 *         GuestImages.Kernel kernel = GuestImages.cloudKernel();
 *         Path initramfs = GuestImages.guestInitramfs(kernel, List.of("virtio_pci", "virtio_blk"));
 *         // Tests run in tests/, so the launcher at the repository root is ../ristretto.
 *         ExecResult run = HardwareKvmHost.exec(
 *                 List.of("../ristretto", "run", "--kernel", kernel.vmlinuz().toString(),
 *                         "--initrd", initramfs.toString(), "--append", "console=ttyS0"),
 *                 Duration.ofMinutes(5), Path.of("target/nested-it/FullBootIT"));
 *         assertTrue(run.succeeded(), run.summary());
 *         assertTrue(run.printed("RISTRETTO-GUEST-UP kernel=" + kernel.version()), run.summary());
 *     }
 * }
 * }</pre>
 *
 * <p>The command runs in the test JVM's working directory with this JVM's environment (inside L1:
 * PATH, JAVA_HOME, HOME, RISTRETTO_CACHE and CI). JAVA_HOME defaults to the JDK running the tests.
 * Inside L1 the host's files are visible but writes are discarded, except under {@code scratch},
 * which is shared at the same absolute path: put anything the test must read back there.
 */
public final class HardwareKvmHost {

    static final String RUN_IN_L1 = "guest-images/nested/run-in-l1.sh";

    /** Extra time the JVM grants run-in-l1.sh beyond the command's timeout: kernel fetch, L1 shutdown. */
    private static final Duration L1_SETUP_ALLOWANCE = Duration.ofMinutes(10);

    /**
     * Whether and how this host can run commands with hardware-semantics KVM.
     *
     * @param mode how commands will run, or empty when they cannot
     * @param reason one sentence saying why
     */
    public record Availability(Optional<ExecResult.Mode> mode, String reason) {
        public boolean possible() {
            return mode.isPresent();
        }
    }

    private HardwareKvmHost() {}

    /**
     * Decides once per JVM. When L1 is needed but QEMU or the image tools are missing and this
     * process runs as root, it installs them ({@link HostTools#ensure}; CI starts on a fresh machine).
     */
    public static Availability availability() {
        return Lazy.AVAILABILITY;
    }

    private static final class Lazy {
        static final Availability AVAILABILITY = decide(HostFacts.probe());
    }

    /**
     * Runs {@code command} with hardware-semantics KVM and waits for it.
     *
     * @param command the program and its arguments (no shell: wrap in {@code bash -c} for one)
     * @param timeout how long the command may take; inside L1 this excludes fetching L1's kernel
     *     but includes L1's boot (about 10 s)
     * @param scratch a directory (created if needed) shared writable with the command; logs land here
     * @throws HarnessException when this host can run no hardware-semantics KVM at all (guard the
     *     test with {@link NeedsHardwareKvm}) or the harness itself broke
     */
    public static ExecResult exec(List<String> command, Duration timeout, Path scratch)
            throws IOException, InterruptedException {
        Availability availability = availability();
        ExecResult.Mode mode = availability.mode().orElseThrow(() -> new HarnessException(
                "this host cannot run hardware-semantics KVM: " + availability.reason()));
        return switch (mode) {
            case DIRECT -> execDirect(command, timeout, scratch);
            case NESTED_L1 -> execInL1Again(command, timeout, scratch);
        };
    }

    /**
     * {@link #execInL1}, run a second time when L1 itself crashed. L1's kernel (QEMU 7.2 TCG with
     * SVM) now and then dies under load (docs/known-issues.md: a kernel stack overflow in
     * exc_page_fault on a GS-relative load, in the context of a Ristretto vCPU thread), which says
     * nothing about the code under test but would fail every test sharing the job. The first
     * attempt's output and L1 console are kept as {@code l1-crash.log}; a second crash stands.
     */
    private static ExecResult execInL1Again(List<String> command, Duration timeout, Path scratch)
            throws IOException, InterruptedException {
        return againIfL1Crashed(() -> execInL1(command, timeout, scratch), scratch);
    }

    /** One run of a job in L1 (a seam for {@link #againIfL1Crashed}'s test). */
    interface L1Attempt {
        ExecResult run() throws IOException, InterruptedException;
    }

    static ExecResult againIfL1Crashed(L1Attempt attempt, Path scratch) throws IOException, InterruptedException {
        ExecResult first = attempt.run();
        if (first.outcome() != ExecResult.Outcome.L1_CRASHED) {
            return first;
        }
        Path console = scratch.resolve("l1-console.log");
        Files.writeString(scratch.resolve("l1-crash.log"), first.output() + "\n--- diagnostics ---\n"
                + first.diagnostics() + "\n--- L1 console ---\n"
                + (Files.exists(console) ? Files.readString(console, java.nio.charset.StandardCharsets.ISO_8859_1) : ""));
        System.out.println("NESTED-CRASH-RETRY L1 crashed (" + first.summary() + "); running the job once more; "
                + "first attempt in " + scratch.resolve("l1-crash.log"));
        return attempt.run();
    }

    /** Runs {@code command} on this host, whatever its KVM (for the hardware case of {@link #exec}). */
    public static ExecResult execDirect(List<String> command, Duration timeout, Path scratch)
            throws IOException, InterruptedException {
        checkArguments(command, timeout, scratch);
        Path dir = Files.createDirectories(scratch).toAbsolutePath();
        ProcessRunner.Completed run = ProcessRunner.run(
                command, commandEnvironment(), workingDirectory(), timeout, "[kvm] ", true);
        var result = new ExecResult(
                ExecResult.Mode.DIRECT,
                run.timedOut() ? ExecResult.Outcome.TIMED_OUT : ExecResult.Outcome.EXITED,
                run.timedOut() ? 124 : run.exitCode(),
                run.stdout(),
                run.timedOut() ? "killed after the timeout of " + ExecResult.seconds(timeout) : "",
                run.elapsed(),
                Optional.empty(),
                dir);
        Files.writeString(dir.resolve("command-output.log"), result.output());
        return result;
    }

    /** Runs {@code command} inside L1 even when this host has hardware KVM (to test the harness). */
    public static ExecResult execInL1(List<String> command, Duration timeout, Path scratch)
            throws IOException, InterruptedException {
        return runInL1(Repository.script(RUN_IN_L1), command, timeout, scratch, Map.of());
    }

    /** {@link #execInL1} with an explicit script and extra environment (tests use a stand-in QEMU). */
    static ExecResult runInL1(
            Path script, List<String> command, Duration timeout, Path scratch, Map<String, String> extraEnvironment)
            throws IOException, InterruptedException {
        checkArguments(command, timeout, scratch);
        Path dir = Files.createDirectories(scratch).toAbsolutePath();
        long seconds = Math.max(1, (timeout.toMillis() + 999) / 1000);
        var arguments = new ArrayList<>(List.of(
                "bash", script.toString(), "--timeout", Long.toString(seconds), "--scratch", dir.toString(), "--"));
        arguments.addAll(command);
        Map<String, String> environment = commandEnvironment();
        environment.putAll(extraEnvironment);
        Path resultFile = dir.resolve("l1-result");
        Files.deleteIfExists(resultFile);
        ProcessRunner.Completed run = ProcessRunner.run(
                arguments, environment, workingDirectory(), timeout.plus(L1_SETUP_ALLOWANCE), "[L1] ", false);
        if (!Files.isRegularFile(resultFile) && run.exitCode() == 120 && !run.timedOut()) {
            // Arguments refused before the scratch directory was usable, so no l1-result there.
            return new ExecResult(ExecResult.Mode.NESTED_L1, ExecResult.Outcome.BAD_USAGE, run.exitCode(), run.stdout(),
                    run.stderr(), run.elapsed(), Optional.empty(), dir);
        }
        if (!Files.isRegularFile(resultFile)) {
            throw new HarnessException(script + " ended (status " + run.exitCode() + (run.timedOut() ? ", killed" : "")
                    + ") without writing " + resultFile + "; its messages: " + run.stderr().strip());
        }
        Map<String, String> fields = parseResult(Files.readString(resultFile));
        var outcome = ExecResult.Outcome.fromScriptWord(fields.getOrDefault("outcome", "?"));
        Optional<Duration> boot = Optional.ofNullable(fields.get("l1_boot_ms")).map(ms -> Duration.ofMillis(Long.parseLong(ms)));
        var result = new ExecResult(
                ExecResult.Mode.NESTED_L1, outcome, run.exitCode(), run.stdout(), run.stderr(), run.elapsed(), boot, dir);
        Files.writeString(dir.resolve("command-output.log"), result.output());
        return result;
    }

    /** The key=value lines of run-in-l1.sh's l1-result file. */
    static Map<String, String> parseResult(String text) {
        var fields = new HashMap<String, String>();
        text.lines().forEach(line -> {
            int eq = line.indexOf('=');
            if (eq > 0) {
                fields.put(line.substring(0, eq), line.substring(eq + 1).strip());
            }
        });
        return fields;
    }

    static Availability decide(HostFacts facts) {
        HostFacts.Classification classification = facts.classify();
        return switch (classification.kind()) {
            case HARDWARE_KVM -> new Availability(Optional.of(ExecResult.Mode.DIRECT), classification.reason());
            case UNSUPPORTED -> new Availability(Optional.empty(), classification.reason());
            case NEEDS_L1 -> l1Availability(classification.reason());
        };
    }

    private static Availability l1Availability(String why) {
        List<String> missing = HostTools.ensure(HostTools.L1_TOOLS);
        if (!missing.isEmpty()) {
            return new Availability(Optional.empty(), why + ", but " + HostTools.explainMissing(missing));
        }
        return new Availability(Optional.of(ExecResult.Mode.NESTED_L1), why);
    }

    private static Map<String, String> commandEnvironment() {
        var environment = new HashMap<String, String>();
        if (System.getenv("JAVA_HOME") == null) {
            environment.put("JAVA_HOME", System.getProperty("java.home"));
        }
        return environment;
    }

    private static Path workingDirectory() {
        return Path.of("").toAbsolutePath();
    }

    private static void checkArguments(List<String> command, Duration timeout, Path scratch) {
        if (command.isEmpty()) {
            throw new IllegalArgumentException("command is empty; give the program and its arguments");
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout " + timeout + " is not positive");
        }
        if (scratch == null) {
            throw new IllegalArgumentException("scratch directory is null; pass a directory under target/");
        }
    }
}
