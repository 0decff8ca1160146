package dev.ristretto.tests.nested;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs one host process to completion: collects stdout and stderr (echoing them live, so a long
 * boot shows progress in the surefire report), and kills the process tree when it outlives its
 * deadline. Streams are read by their own threads because a child blocked on a full pipe would
 * otherwise never exit.
 *
 * <p>Echoing goes through {@link System#out}/{@link System#err}, never the inherited native
 * descriptors: surefire's forked JVM talks to Maven over its native stdout, and writes there
 * corrupt that channel.
 */
final class ProcessRunner {

    /** What a finished (or killed) process left behind. */
    record Completed(int exitCode, String stdout, String stderr, boolean timedOut, Duration elapsed) {}

    private ProcessRunner() {}

    /**
     * @param echoPrefix prefix for live echo of each line, or {@code null} for no echo
     * @param mergeStderr whether stderr is folded into stdout (like a console)
     */
    static Completed run(
            List<String> command,
            Map<String, String> environment,
            Path workingDirectory,
            Duration timeout,
            String echoPrefix,
            boolean mergeStderr)
            throws IOException, InterruptedException {
        var builder = new ProcessBuilder(command)
                .directory(workingDirectory.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectErrorStream(mergeStderr);
        builder.environment().putAll(environment);
        long start = System.nanoTime();
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new HarnessException("cannot start " + command.getFirst() + ": " + e.getMessage(), e);
        }
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        Thread outReader = drain(process.getInputStream(), stdout, echoPrefix, System.out);
        Thread errReader = mergeStderr
                ? null
                : drain(process.getErrorStream(), stderr, echoPrefix, System.err);
        boolean finished = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (!finished) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            process.waitFor();
        }
        outReader.join();
        if (errReader != null) {
            errReader.join();
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
        return new Completed(process.exitValue(), text(stdout), text(stderr), !finished, elapsed);
    }

    private static String text(StringBuilder buffer) {
        synchronized (buffer) {
            return buffer.toString();
        }
    }

    private static Thread drain(InputStream stream, StringBuilder sink, String echoPrefix, PrintStream echo) {
        return Thread.ofPlatform().daemon().name("process-drain").start(() -> {
            try (var reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
                    synchronized (sink) {
                        sink.append(line).append('\n');
                    }
                    if (echoPrefix != null) {
                        echo.println(echoPrefix + line);
                    }
                }
            } catch (IOException e) {
                // The pipe closes when the process tree is killed; what was read so far is kept.
            }
        });
    }
}
