package dev.ristretto.vmm.check;

import dev.ristretto.vmm.kvm.Capability;
import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Everything {@link HostCheck} decides from, as plain data: gathered from the real host by
 * {@link HostProbe}, made up by tests.
 *
 * @param kvm          whether /dev/kvm could be opened, and if not why
 * @param apiVersion   KVM_GET_API_VERSION, empty when /dev/kvm was not opened
 * @param capabilities each capability Ristretto uses and whether KVM_CHECK_EXTENSION reports it;
 *                     empty when /dev/kvm was not opened
 * @param maxVcpus     KVM_CAP_MAX_VCPUS (api.rst §4.4), empty when /dev/kvm was not opened
 * @param cpu          the flags /proc/cpuinfo shows and the KVM modules /sys/module lists
 * @param probe        what the tiny guest that executes {@code iretq} did
 * @param hugePages    hugetlbfs pool and transparent-hugepage mode
 * @param tap          whether TAP networking is open to this process
 * @param passt        where {@code passt} is on PATH, if anywhere
 */
public record HostFacts(KvmAccess kvm, OptionalInt apiVersion, Map<Capability, Boolean> capabilities,
        OptionalInt maxVcpus, CpuInfo cpu, NativeProbe.Result probe, HugePages hugePages, TapAccess tap,
        Optional<Path> passt) {

    public HostFacts {
        Objects.requireNonNull(kvm);
        Objects.requireNonNull(apiVersion);
        capabilities = Collections.unmodifiableMap(capabilities.isEmpty()
                ? new EnumMap<>(Capability.class) : new EnumMap<>(capabilities));
        Objects.requireNonNull(maxVcpus);
        Objects.requireNonNull(cpu);
        Objects.requireNonNull(probe);
        Objects.requireNonNull(hugePages);
        Objects.requireNonNull(tap);
        Objects.requireNonNull(passt);
    }

    /** The outcome of opening /dev/kvm read-write. */
    public enum KvmDeviceState {
        /** Opened, and it speaks the KVM API. */
        OPEN,
        /** No such node (ENOENT, ENODEV, ENXIO): no KVM module loaded. */
        MISSING,
        /** The node exists but this user may not open it (EACCES, EPERM). */
        NO_PERMISSION,
        /** Any other failure (an unsupported API version, an unexpected errno). */
        ERROR
    }

    /** @param message the error KVM's open gave, empty when {@code state} is OPEN */
    public record KvmAccess(String path, KvmDeviceState state, String message) {
        public KvmAccess {
            Objects.requireNonNull(path);
            Objects.requireNonNull(state);
            Objects.requireNonNull(message);
        }

        public static KvmAccess open(String path) {
            return new KvmAccess(path, KvmDeviceState.OPEN, "");
        }
    }

    /**
     * @param flags      the first processor's "flags" line in /proc/cpuinfo (vmx, svm, hypervisor ...)
     * @param kvmModules the KVM modules loaded (/sys/module/kvm_intel, kvm_amd, kvm_pvm)
     */
    public record CpuInfo(Set<String> flags, Set<String> kvmModules) {
        public CpuInfo {
            flags = Set.copyOf(flags);
            kvmModules = Set.copyOf(kvmModules);
        }

        /** Intel VT-x or AMD-V: the CPU KVM sees can run guests in hardware. */
        public boolean hardwareVirtualization() {
            return flags.contains("vmx") || flags.contains("svm");
        }

        /** CPUID.1:ECX[31]: this "host" is itself a guest of another hypervisor. */
        public boolean underHypervisor() {
            return flags.contains("hypervisor");
        }

        /** PVM (the kvm_pvm module): KVM for hosts without VT-x/AMD-V, running guests in software. */
        public boolean pvm() {
            return kvmModules.contains("kvm_pvm");
        }
    }

    /**
     * @param total      /proc/meminfo HugePages_Total (pre-reserved hugetlbfs pages)
     * @param free       /proc/meminfo HugePages_Free
     * @param pageSizeKb /proc/meminfo Hugepagesize, in KiB
     * @param thpMode    the selected mode in /sys/kernel/mm/transparent_hugepage/enabled
     *                   ("always", "madvise", "never"), empty when the file is missing
     */
    public record HugePages(long total, long free, long pageSizeKb, String thpMode) {
        public HugePages {
            Objects.requireNonNull(thpMode);
        }
    }

    /**
     * @param tunOpenable  /dev/net/tun opened read-write
     * @param tunError     why it did not, empty when it did
     * @param capNetAdmin  this process has CAP_NET_ADMIN in its effective set (/proc/self/status CapEff)
     */
    public record TapAccess(boolean tunOpenable, String tunError, boolean capNetAdmin) {
        public TapAccess {
            Objects.requireNonNull(tunError);
        }
    }
}
