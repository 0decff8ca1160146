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
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = new ArrayList<>(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED",
                "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), "dev.ristretto.cli.Main"));
        cmd.addAll(List.of(args));
        Path out = logDir.resolve("stdout.log");
        Path err = logDir.resolve("stderr.log");
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        boolean done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (!done) {
            p.destroy();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor();
            }
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - t0);
        return new Outcome(done ? p.exitValue() : -1, Files.readString(out, StandardCharsets.ISO_8859_1),
                Files.readString(err, StandardCharsets.ISO_8859_1), elapsed, !done);
    }
}
