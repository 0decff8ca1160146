package dev.ristretto.tests.nested;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The host commands the guest-image scripts and the L1 harness call, and their installation: CI
 * starts on a fresh machine as root, so a missing tool is installed with
 * guest-images/install-deps.sh (at most once per JVM); elsewhere the caller is told to run it.
 */
public final class HostTools {

    /** What building an initramfs needs: busybox-static's binary, kmod, cpio. */
    public static final List<String> IMAGE_TOOLS = List.of("busybox", "modprobe", "depmod", "cpio");

    /** What run-in-l1.sh needs: the image tools and QEMU. */
    public static final List<String> L1_TOOLS =
            Stream.concat(Stream.of("qemu-system-x86_64"), IMAGE_TOOLS.stream()).toList();

    static final String INSTALL_DEPS = "guest-images/install-deps.sh";

    private static boolean installAttempted;

    private HostTools() {}

    /** Which of {@code tools} are not found (RISTRETTO_QEMU stands in for qemu-system-x86_64). */
    public static List<String> missing(List<String> tools) {
        String qemuOverride = System.getenv("RISTRETTO_QEMU");
        return tools.stream()
                .filter(tool -> !onPath(tool.equals("qemu-system-x86_64") && qemuOverride != null ? qemuOverride : tool))
                .toList();
    }

    /**
     * Makes {@code tools} available if it can (installing as root) and returns what is still
     * missing, empty when all are there.
     */
    public static synchronized List<String> ensure(List<String> tools) {
        List<String> missing = missing(tools);
        if (!missing.isEmpty() && isRoot() && !installAttempted) {
            installAttempted = true;
            install();
            missing = missing(tools);
        }
        return missing;
    }

    /** {@link #ensure}, skipping the calling test with the fix as the reason when tools stay missing. */
    public static void assumeInstalled(List<String> tools) {
        List<String> missing = ensure(tools);
        assumeTrue(missing.isEmpty(), () -> explainMissing(missing));
    }

    /** One sentence naming what is missing and the fix. */
    static String explainMissing(List<String> missing) {
        return String.join(", ", missing) + (isRoot() ? " could not be installed" : " missing and this user cannot install it")
                + ": run " + INSTALL_DEPS + " as root";
    }

    static boolean onPath(String command) {
        if (command.contains("/")) {
            return Files.isExecutable(Path.of(command));
        }
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        // modprobe and depmod live in sbin, which a non-root PATH may lack; the scripts run as root.
        return Stream.concat(Stream.of(path.split(File.pathSeparator)), Stream.of("/usr/sbin", "/sbin"))
                .filter(dir -> !dir.isEmpty())
                .anyMatch(dir -> Files.isExecutable(Path.of(dir, command)));
    }

    static boolean isRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(line -> line.startsWith("Uid:"))
                    .anyMatch(line -> line.split("\\s+")[1].equals("0"));
        } catch (IOException e) {
            return false;
        }
    }

    private static void install() {
        try {
            System.err.println("HostTools: tools are missing; running " + INSTALL_DEPS);
            ProcessRunner.run(List.of("bash", Repository.script(INSTALL_DEPS).toString()), Map.of(),
                    Repository.root(), Duration.ofMinutes(15), "[install-deps] ", true);
        } catch (IOException e) {
            System.err.println("HostTools: " + INSTALL_DEPS + " failed: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
