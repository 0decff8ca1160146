package dev.ristretto.tests.nested;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What decides whether this host's /dev/kvm has hardware semantics, gathered once so the decision
 * itself ({@link #classify()}) is a pure function that tests can feed.
 *
 * <p>The rule: KVM is hardware-backed when the CPU flags in /proc/cpuinfo name {@code vmx} (Intel
 * VT-x, SDM vol. 3C ch. 23) or {@code svm} (AMD-V, APM vol. 2 ch. 15), /dev/kvm can be opened for
 * reading and writing, and no {@code kvm_pvm} module is loaded. PVM ("Protected Virtual Machine",
 * the paravirtualised KVM backend this project's machines use) runs guests without VMX/SVM: an
 * unmodified Linux guest falls into KVM's instruction emulator and stops early (see
 * ARCHITECTURE.md, "The hosts this project runs on"). A PVM host inside a VM with nested
 * virtualisation could show vmx and kvm_pvm at once, so the module check comes first.
 *
 * @param osName {@code os.name}
 * @param osArch {@code os.arch}
 * @param cpuFlags the words of the first {@code flags} line of /proc/cpuinfo
 * @param devKvmUsable whether /dev/kvm exists and is readable and writable
 * @param kvmPvmLoaded whether /sys/module/kvm_pvm exists
 */
public record HostFacts(String osName, String osArch, Set<String> cpuFlags, boolean devKvmUsable, boolean kvmPvmLoaded) {

    /** The three kinds of host this harness tells apart. */
    public enum Kind {
        /** /dev/kvm has hardware semantics here: run commands directly. */
        HARDWARE_KVM,
        /** x86-64 Linux without hardware-semantics KVM: run commands inside L1 (QEMU TCG + kvm_amd). */
        NEEDS_L1,
        /** Neither is possible (not x86-64 Linux). */
        UNSUPPORTED
    }

    /** The classification and a sentence saying why. */
    public record Classification(Kind kind, String reason) {}

    public static HostFacts probe() {
        Path devKvm = Path.of("/dev/kvm");
        return new HostFacts(
                System.getProperty("os.name"),
                System.getProperty("os.arch"),
                cpuFlags(read(Path.of("/proc/cpuinfo"))),
                Files.isReadable(devKvm) && Files.isWritable(devKvm),
                Files.isDirectory(Path.of("/sys/module/kvm_pvm")));
    }

    /** The words of the first {@code flags : ...} line (every CPU lists the same ones). */
    static Set<String> cpuFlags(String cpuinfo) {
        return cpuinfo.lines()
                .filter(line -> line.startsWith("flags") && line.indexOf(':') > 0)
                .findFirst()
                .map(line -> Arrays.stream(line.substring(line.indexOf(':') + 1).trim().split("\\s+"))
                        .filter(word -> !word.isEmpty())
                        .collect(Collectors.toUnmodifiableSet()))
                .orElse(Set.of());
    }

    public Classification classify() {
        boolean x86Linux = "Linux".equals(osName) && ("amd64".equals(osArch) || "x86_64".equals(osArch));
        if (!x86Linux) {
            return new Classification(Kind.UNSUPPORTED, "hardware-semantics KVM needs x86-64 Linux, and this is "
                    + osName + " on " + osArch + " (L1 runs an x86-64 Debian kernel under QEMU TCG)");
        }
        boolean hardwareFlag = cpuFlags.contains("vmx") || cpuFlags.contains("svm");
        if (kvmPvmLoaded) {
            return new Classification(Kind.NEEDS_L1, "/dev/kvm is PVM-backed (kvm_pvm is loaded), so commands run inside L1");
        }
        if (!hardwareFlag) {
            return new Classification(Kind.NEEDS_L1, "the CPU offers neither vmx nor svm, so commands run inside L1");
        }
        if (!devKvmUsable) {
            return new Classification(Kind.NEEDS_L1,
                    "/dev/kvm is missing or not read-writable for this user, so commands run inside L1");
        }
        return new Classification(Kind.HARDWARE_KVM,
                "/dev/kvm is hardware-backed (" + (cpuFlags.contains("vmx") ? "vmx" : "svm") + ", no kvm_pvm)");
    }

    private static String read(Path path) {
        try {
            return Files.readString(path);
        } catch (IOException e) {
            return "";
        }
    }
}
