package dev.ristretto.tests.nested;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The guest images the boot tests use, produced (or found in the cache) by the repository's
 * scripts: Debian kernels from guest-images/fetch-debian-kernel.sh and initramfs images from
 * guest-images/initramfs/build-initramfs.sh. Both cache under RISTRETTO_CACHE, so only the first
 * call on a machine downloads or builds anything.
 */
public final class GuestImages {

    /**
     * An unpacked Debian kernel package.
     *
     * @param directory the tree (vmlinuz, vmlinux, VERSION, lib/modules/VERSION/)
     * @param version the kernel release, as {@code uname -r} prints it in the guest
     */
    public record Kernel(Path directory, String version) {
        /** The bzImage. */
        public Path vmlinuz() {
            return directory.resolve("vmlinuz");
        }

        /** The uncompressed ELF kernel from inside the bzImage (it carries the PVH note). */
        public Path vmlinux() {
            return directory.resolve("vmlinux");
        }
    }

    private static final Duration FETCH_TIMEOUT = Duration.ofMinutes(10);

    /** The exit status both scripts use when Debian's archive cannot be reached. */
    private static final int ARCHIVE_UNREACHABLE = 3;

    private GuestImages() {}

    /**
     * Debian's linux-image-cloud-amd64: the kernel Ristretto's boot tests run.
     *
     * @throws DebianArchiveUnreachableException when it is not cached and Debian's archive is unreachable
     */
    public static Kernel cloudKernel() throws IOException, InterruptedException {
        return debianKernel("cloud");
    }

    /** Debian's linux-image-amd64 (the generic flavour, which L1 runs). */
    public static Kernel genericKernel() throws IOException, InterruptedException {
        return debianKernel("generic");
    }

    private static Kernel debianKernel(String flavour) throws IOException, InterruptedException {
        Path tree = Path.of(runScript("guest-images/fetch-debian-kernel.sh", List.of(flavour)));
        Path versionFile = tree.resolve("VERSION");
        if (!Files.isRegularFile(versionFile) || !Files.isRegularFile(tree.resolve("vmlinuz"))
                || !Files.isRegularFile(tree.resolve("vmlinux"))) {
            throw new HarnessException("fetch-debian-kernel.sh " + flavour + " printed " + tree
                    + ", which has no vmlinuz, vmlinux or VERSION; delete it so the script fetches it again");
        }
        return new Kernel(tree, Files.readString(versionFile).strip());
    }

    /**
     * The L2 guest initramfs (busybox; prints {@code RISTRETTO-GUEST-UP kernel=... cpus=...}, then
     * obeys {@code ristretto.action=reboot|poweroff|shell}), with {@code modules} and their
     * dependencies from {@code kernel}'s tree loaded at boot. With no modules it fits any kernel.
     */
    public static Path guestInitramfs(Kernel kernel, List<String> modules) throws IOException, InterruptedException {
        var arguments = new ArrayList<String>();
        if (!modules.isEmpty()) {
            arguments.addAll(List.of("--kernel", kernel.directory().toString(), "--modules", String.join(" ", modules)));
        }
        return Path.of(runScript("guest-images/initramfs/build-initramfs.sh", arguments));
    }

    /** The module-less L2 initramfs. */
    public static Path guestInitramfs() throws IOException, InterruptedException {
        return Path.of(runScript("guest-images/initramfs/build-initramfs.sh", List.of()));
    }

    /** Runs a repository script and returns the last line it printed on stdout (the path). */
    private static String runScript(String script, List<String> arguments) throws IOException, InterruptedException {
        var command = new ArrayList<>(List.of("bash", Repository.script(script).toString()));
        command.addAll(arguments);
        ProcessRunner.Completed run =
                ProcessRunner.run(command, Map.of(), Repository.root(), FETCH_TIMEOUT, null, false);
        List<String> lines = run.stdout().lines().toList();
        if (!run.timedOut() && run.exitCode() == ARCHIVE_UNREACHABLE) {
            throw new DebianArchiveUnreachableException(script + " " + String.join(" ", arguments)
                    + " cannot reach Debian's archive: " + run.stderr().strip());
        }
        if (run.timedOut() || run.exitCode() != 0 || lines.isEmpty()) {
            throw new HarnessException(script + " " + String.join(" ", arguments) + " failed (status " + run.exitCode()
                    + (run.timedOut() ? ", killed after " + FETCH_TIMEOUT : "") + "): " + run.stderr().strip());
        }
        return lines.getLast().strip();
    }
}
