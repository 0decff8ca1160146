package dev.ristretto.tests.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real command line ({@code dev.ristretto.cli.Main}) in a child JVM, as a user would run
 * {@code ristretto}: same classes, its own process (so a guest that wedges cannot take the test
 * JVM with it), stdout and stderr captured to files under the test's target directory.
 */
public final class RistrettoProcess {
    /** How a run ended: exit code (or -1 when it had to be killed), output, wall time. */
    public record Outcome(int exitCode, String stdout, String stderr, Duration elapsed, boolean timedOut) {
    }

    private RistrettoProcess() {
    }

    public static Outcome run(Path logDir, Duration timeout, String... args) throws IOException, InterruptedException {
        return start(logDir, args).await(timeout);
    }

    /** Starts the command line without waiting, for tests that act on it while it runs (signals). */
    public static Running start(Path logDir, String... args) throws IOException {
        return start(logDir, List.of(), List.of(args));
    }

    /**
     * {@link #start(Path, String...)} behind a command prefix such as {@code ip netns exec NS}.
     * The whole command goes to {@code command.txt} in {@code logDir}, beside the output.
     */
    public static Running start(Path logDir, List<String> prefix, List<String> args) throws IOException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED",
                "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), "dev.ristretto.cli.Main"));
        cmd.addAll(args);
        Files.write(logDir.resolve("command.txt"), List.of(String.join(" ", cmd)));
        Path out = logDir.resolve("stdout.log");
        Path err = logDir.resolve("stderr.log");
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        return new Running(p, out, err, t0);
    }

    /** A command line still running. */
    public static final class Running {
        private final Process process;
        private final Path out;
        private final Path err;
        private final long t0;

        private Running(Process process, Path out, Path err, long t0) {
            this.process = process;
            this.out = out;
            this.err = err;
            this.t0 = t0;
        }

        public Process process() {
            return process;
        }

        /** Time since the start. */
        public Duration elapsed() {
            return Duration.ofNanos(System.nanoTime() - t0);
        }

        /** Sends a signal by name ("TERM", "INT") with kill(1), as a user or a supervisor would. */
        public void signal(String name) throws IOException, InterruptedException {
            Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
            if (kill.waitFor() != 0) {
                throw new IOException("kill -" + name + " " + process.pid() + " exited with " + kill.exitValue());
            }
        }

        /**
         * Waits until {@code file} contains {@code text} (true), or until the process ends or
         * {@code timeout} passes (false).
         */
        public boolean awaitText(Path file, String text, Duration timeout) throws IOException, InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                if (Files.exists(file) && Files.readString(file, StandardCharsets.ISO_8859_1).contains(text)) {
                    return true;
                }
                if (!process.isAlive()) {
                    return false;
                }
                Thread.sleep(100);
            }
            return false;
        }

        /** Waits for the end; a run still going after {@code timeout} is stopped (exit code -1). */
        public Outcome await(Duration timeout) throws IOException, InterruptedException {
            boolean done = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!done) {
                process.destroy();
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor();
                }
            }
            return new Outcome(done ? process.exitValue() : -1, Files.readString(out, StandardCharsets.ISO_8859_1),
                    Files.readString(err, StandardCharsets.ISO_8859_1), elapsed(), !done);
        }
    }
}
