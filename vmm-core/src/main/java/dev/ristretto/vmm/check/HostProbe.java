package dev.ristretto.vmm.check;

import dev.ristretto.vmm.check.HostFacts.KvmAccess;
import dev.ristretto.vmm.check.HostFacts.KvmDeviceState;
import dev.ristretto.vmm.kvm.Capability;
import dev.ristretto.vmm.kvm.Kvm;
import dev.ristretto.vmm.kvm.KvmException;
import dev.ristretto.vmm.kvm.KvmUnavailableException;
import dev.ristretto.vmm.sys.Errno;
import dev.ristretto.vmm.sys.ErrnoException;
import dev.ristretto.vmm.sys.Libc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Gathers {@link HostFacts} from the running host: opens /dev/kvm and asks it, reads /proc and
 * /sys, opens /dev/net/tun, looks for passt on PATH, and runs the {@link NativeProbe} guest. The
 * text parsing is in small pure functions the tests feed.
 */
public final class HostProbe {
    static final Path CPUINFO = Path.of("/proc/cpuinfo");
    static final Path MEMINFO = Path.of("/proc/meminfo");
    static final Path THP_ENABLED = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");
    static final Path SELF_STATUS = Path.of("/proc/self/status");
    static final Path SYS_MODULE = Path.of("/sys/module");
    static final String TUN = "/dev/net/tun";
    /** The KVM modules that decide the virtualization kind (one vendor module is loaded at a time). */
    static final String[] KVM_MODULES = {"kvm", "kvm_intel", "kvm_amd", "kvm_pvm"};
    /** CAP_NET_ADMIN's bit in the capability sets (linux/capability.h). */
    static final int CAP_NET_ADMIN = 12;

    private HostProbe() {
    }

    /** The facts about this host, with /dev/kvm. */
    public static HostFacts gather() {
        return gather(Kvm.DEVICE);
    }

    /** The facts about this host, with the KVM device node at {@code kvmPath}. */
    public static HostFacts gather(String kvmPath) {
        HostFacts.CpuInfo cpu = new HostFacts.CpuInfo(cpuFlags(read(CPUINFO)), loadedModules());
        HostFacts.HugePages huge = hugePages(read(MEMINFO), read(THP_ENABLED));
        HostFacts.TapAccess tap = tapAccess(read(SELF_STATUS));
        Optional<Path> passt = findOnPath("passt", System.getenv("PATH"));
        Kvm kvm;
        try {
            kvm = Kvm.open(kvmPath);
        } catch (KvmUnavailableException e) {
            NativeProbe.Result notRun = new NativeProbe.Result(NativeProbe.Outcome.NOT_RUN,
                    "not checked: " + kvmPath + " is unavailable");
            return new HostFacts(kvmFailure(kvmPath, e), OptionalInt.empty(), Map.of(), OptionalInt.empty(), cpu,
                    notRun, huge, tap, passt);
        }
        try (kvm) {
            Map<Capability, Boolean> caps = new EnumMap<>(Capability.class);
            for (Capability c : Capability.values()) {
                caps.put(c, kvm.has(c));
            }
            return new HostFacts(KvmAccess.open(kvmPath), OptionalInt.of(kvm.apiVersion()), caps,
                    OptionalInt.of(kvm.maxVcpus()), cpu, NativeProbe.run(kvm), huge, tap, passt);
        } catch (KvmException e) {
            return new HostFacts(new KvmAccess(kvmPath, KvmDeviceState.ERROR, e.getMessage()), OptionalInt.empty(),
                    Map.of(), OptionalInt.empty(), cpu,
                    new NativeProbe.Result(NativeProbe.Outcome.NOT_RUN, "not checked: " + e.getMessage()), huge, tap,
                    passt);
        }
    }

    /** Kvm.open's failure, classified by the errno behind it (its message already says how to fix it). */
    static KvmAccess kvmFailure(String path, KvmUnavailableException e) {
        KvmDeviceState state = KvmDeviceState.ERROR;
        if (e.getCause() instanceof ErrnoException errno) {
            state = switch (errno.errno()) {
                case Errno.ENOENT, Errno.ENODEV, Errno.ENXIO -> KvmDeviceState.MISSING;
                case Errno.EACCES, Errno.EPERM -> KvmDeviceState.NO_PERMISSION;
                default -> KvmDeviceState.ERROR;
            };
        }
        return new KvmAccess(path, state, e.getMessage());
    }

    /** The first processor's "flags" line of /proc/cpuinfo, as a set of flag names. */
    static Set<String> cpuFlags(String cpuinfo) {
        for (String line : cpuinfo.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).strip().equals("flags")) {
                return Set.copyOf(Arrays.asList(line.substring(colon + 1).strip().split("\\s+")));
            }
        }
        return Set.of();
    }

    private static Set<String> loadedModules() {
        Set<String> loaded = new LinkedHashSet<>();
        for (String m : KVM_MODULES) {
            // A module, or a built-in one with parameters, has a directory here.
            if (Files.isDirectory(SYS_MODULE.resolve(m))) {
                loaded.add(m);
            }
        }
        return loaded;
    }

    /**
     * HugePages_Total, HugePages_Free and Hugepagesize from /proc/meminfo (proc(5)), and the
     * bracketed mode of transparent_hugepage/enabled ("always [madvise] never").
     */
    static HostFacts.HugePages hugePages(String meminfo, String thpEnabled) {
        long total = 0;
        long free = 0;
        long size = 0;
        for (String line : meminfo.split("\n")) {
            String[] kv = line.split(":", 2);
            if (kv.length != 2) {
                continue;
            }
            String value = kv[1].strip().split("\\s+")[0];
            switch (kv[0].strip()) {
                case "HugePages_Total" -> total = parseLong(value);
                case "HugePages_Free" -> free = parseLong(value);
                case "Hugepagesize" -> size = parseLong(value);
                default -> {
                }
            }
        }
        int open = thpEnabled.indexOf('[');
        int close = thpEnabled.indexOf(']', open + 1);
        String mode = open >= 0 && close > open ? thpEnabled.substring(open + 1, close) : "";
        return new HostFacts.HugePages(total, free, size, mode);
    }

    private static long parseLong(String s) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Whether CapEff in /proc/self/status (hexadecimal, proc(5)) has CAP_NET_ADMIN. */
    static boolean capNetAdmin(String status) {
        for (String line : status.split("\n")) {
            if (line.startsWith("CapEff:")) {
                try {
                    return (Long.parseUnsignedLong(line.substring(7).strip(), 16) >>> CAP_NET_ADMIN & 1) != 0;
                } catch (NumberFormatException e) {
                    return false;
                }
            }
        }
        return false;
    }

    private static HostFacts.TapAccess tapAccess(String status) {
        boolean cap = capNetAdmin(status);
        try {
            Libc.close(Libc.open(TUN, Libc.O_RDWR | Libc.O_CLOEXEC));
            return new HostFacts.TapAccess(true, "", cap);
        } catch (ErrnoException e) {
            return new HostFacts.TapAccess(false, Libc.strerror(e.errno()), cap);
        }
    }

    /** The first executable {@code name} in the directories of {@code path} (a PATH value). */
    static Optional<Path> findOnPath(String name, String path) {
        if (path == null) {
            return Optional.empty();
        }
        for (String dir : path.split(":")) {
            if (!dir.isEmpty()) {
                Path p = Path.of(dir, name);
                if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                    return Optional.of(p);
                }
            }
        }
        return Optional.empty();
    }

    /** The file's text, or "" when it cannot be read (a missing /sys file means the feature is absent). */
    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException | SecurityException e) {
            return "";
        }
    }
}
