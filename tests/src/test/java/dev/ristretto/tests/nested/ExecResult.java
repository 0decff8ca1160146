package dev.ristretto.tests.nested;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The result of {@link HardwareKvmHost#exec}: how the command ended, what it printed and how long
 * it took.
 *
 * @param mode where the command ran
 * @param outcome how the run ended; only {@link Outcome#EXITED} means {@code exitCode} is the
 *     command's own status
 * @param exitCode the command's exit status, or the harness's code for the other outcomes
 * @param output the command's stdout and stderr, interleaved as on a console (inside L1 both are
 *     L1's serial console), with carriage returns removed
 * @param diagnostics the harness's own messages (empty in {@link Mode#DIRECT} mode)
 * @param wallTime the whole run, L1 boot and shutdown included
 * @param l1Boot from starting QEMU to starting the command inside L1; empty in direct mode or when
 *     L1 never got that far
 * @param scratch the scratch directory; it holds {@code command-output.log} and, in L1 mode,
 *     {@code l1-console.log} (L1's whole console) and {@code l1-dmesg.log}
 */
public record ExecResult(
        Mode mode,
        Outcome outcome,
        int exitCode,
        String output,
        String diagnostics,
        Duration wallTime,
        Optional<Duration> l1Boot,
        Path scratch) {

    /** Where the command ran. */
    public enum Mode {
        /** On this host, whose /dev/kvm is hardware-backed. */
        DIRECT,
        /** Inside the L1 VM started by {@code guest-images/nested/run-in-l1.sh}. */
        NESTED_L1
    }

    /** How a run ended; the names follow the {@code outcome=} word of run-in-l1.sh's l1-result. */
    public enum Outcome {
        /** The command ran and exited; {@code exitCode} is its status. */
        EXITED("exited"),
        /** The command outlived its timeout and was killed (with L1, if any). */
        TIMED_OUT("timeout"),
        /** L1 booted but kvm_amd gave it no /dev/kvm; the diagnostics quote L1's dmesg. */
        NO_KVM_IN_L1("no-kvm"),
        /** L1 stopped (panic, QEMU error) before reporting the command's status. */
        L1_CRASHED("crashed"),
        /** qemu-system-x86_64, busybox-static, kmod or cpio is missing: run guest-images/install-deps.sh. */
        MISSING_TOOLS("missing-tools"),
        /** L1's kernel is not cached and Debian's archive is unreachable: nothing about the code under test. */
        NO_KERNEL("no-kernel"),
        /** Fetching L1's kernel failed otherwise, or its cached tree lacks the modules L1 needs. */
        BAD_KERNEL_TREE("bad-kernel-tree"),
        /** run-in-l1.sh rejected its arguments (a bug in the caller). */
        BAD_USAGE("bad-usage"),
        /** run-in-l1.sh was interrupted by a signal and killed L1. */
        INTERRUPTED("interrupted");

        private final String word;

        Outcome(String word) {
            this.word = word;
        }

        /** The outcome run-in-l1.sh names with {@code word}. */
        static Outcome fromScriptWord(String word) {
            for (Outcome outcome : values()) {
                if (outcome.word.equals(word)) {
                    return outcome;
                }
            }
            throw new HarnessException("run-in-l1.sh reported an unknown outcome '" + word
                    + "' (guest-images/nested/run-in-l1.sh and ExecResult.Outcome disagree)");
        }
    }

    public ExecResult {
        output = output.replace("\r", "");
        l1Boot = l1Boot == null ? Optional.empty() : l1Boot;
    }

    /** Whether the command ran to completion and exited with status 0. */
    public boolean succeeded() {
        return outcome == Outcome.EXITED && exitCode == 0;
    }

    /** The output split into lines. */
    public List<String> outputLines() {
        return output.lines().toList();
    }

    /** The first output line matching {@code pattern} anywhere in the line, as a matcher. */
    public Optional<Matcher> find(Pattern pattern) {
        return output.lines().map(pattern::matcher).filter(Matcher::find).findFirst();
    }

    /** Whether some output line contains {@code text}. */
    public boolean printed(String text) {
        return output.contains(text);
    }

    /**
     * One line for assertion messages: how it ended, the timings, and where the logs are, e.g.
     * {@code exited with 0 after 27.4 s in NESTED_L1 (L1 boot 9.1 s); logs in /x/scratch}.
     */
    public String summary() {
        var text = new StringBuilder();
        text.append(outcome == Outcome.EXITED ? "exited with " + exitCode : outcome + " (code " + exitCode + ")");
        text.append(" after ").append(seconds(wallTime)).append(" in ").append(mode);
        l1Boot.ifPresent(boot -> text.append(" (L1 boot ").append(seconds(boot)).append(')'));
        text.append("; logs in ").append(scratch);
        if (!diagnostics.isBlank()) {
            text.append("\n").append(diagnostics.strip());
        }
        return text.toString();
    }

    static String seconds(Duration duration) {
        return String.format("%.1f s", duration.toMillis() / 1000.0);
    }
}
