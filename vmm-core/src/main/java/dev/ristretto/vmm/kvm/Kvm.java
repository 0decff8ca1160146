package dev.ristretto.vmm.kvm;

import static dev.ristretto.vmm.kvm.KvmAbi.CPUID2_HEADER;
import static dev.ristretto.vmm.kvm.KvmAbi.CPUID_ENTRY2;

import dev.ristretto.vmm.sys.Errno;
import dev.ristretto.vmm.sys.ErrnoException;
import dev.ristretto.vmm.sys.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The KVM subsystem: an open {@code /dev/kvm} (api.rst §4, "system ioctls"). Opening checks the
 * API version; {@link #requireCapabilities} checks everything else we rely on in one go, so the
 * user learns every missing capability at once.
 */
public final class Kvm extends Ioctl {
    public static final String DEVICE = "/dev/kvm";

    /** The first guess at KVM_GET_SUPPORTED_CPUID's entry count; grown on E2BIG (api.rst §4.46). */
    private static final int INITIAL_CPUID_ENTRIES = 128;
    /** KVM_MAX_CPUID_ENTRIES is 256 in current kernels; past this something is wrong. */
    private static final int MAX_CPUID_ENTRIES = 4096;

    private Kvm(int fd) {
        super(fd, DEVICE);
    }

    /** Opens /dev/kvm; throws {@link KvmUnavailableException} saying what is wrong and how to fix it. */
    public static Kvm open() {
        return open(DEVICE);
    }

    /** Opens a KVM device node at {@code path} (tests use it to check the error messages). */
    public static Kvm open(String path) {
        int fd;
        try {
            fd = Libc.open(path, Libc.O_RDWR | Libc.O_CLOEXEC);
        } catch (ErrnoException e) {
            throw new KvmUnavailableException(unavailableMessage(path, e.errno()), e);
        }
        Kvm kvm = new Kvm(fd);
        try {
            int version = kvm.apiVersion();
            if (version != KvmAbi.KVM_API_VERSION) {
                throw new KvmUnavailableException(path + " speaks KVM API version " + version + ", not "
                        + KvmAbi.KVM_API_VERSION + "; this host kernel's KVM is not supported (use Linux 4.x or newer)");
            }
        } catch (RuntimeException e) {
            kvm.close();
            throw e;
        }
        return kvm;
    }

    static String unavailableMessage(String path, int errno) {
        return switch (errno) {
            case Errno.ENOENT, Errno.ENODEV, Errno.ENXIO -> path + " does not exist: the KVM module is not loaded; "
                    + "load kvm_intel/kvm_amd, enable VT-x/AMD-V in the firmware, or enable nested virtualization "
                    + "in the host's settings";
            case Errno.EACCES, Errno.EPERM -> "no permission to open " + path + ": add your user to the kvm group "
                    + "(sudo usermod -aG kvm $USER, then log in again) or add a udev rule";
            default -> "cannot open " + path + ": " + Libc.strerror(errno) + " (errno " + errno + ")";
        };
    }

    /** KVM_GET_API_VERSION; 12 on every kernel we support. */
    public int apiVersion() {
        return call(KvmAbi.KVM_GET_API_VERSION, "KVM_GET_API_VERSION", 0);
    }

    /** KVM_CHECK_EXTENSION: 0 when unsupported, otherwise 1 or a capability-specific value. */
    public int checkExtension(int capability) {
        return call(KvmAbi.KVM_CHECK_EXTENSION, "KVM_CHECK_EXTENSION", capability);
    }

    public boolean has(Capability capability) {
        return checkExtension(capability.number()) > 0;
    }

    /** The capabilities of {@code wanted} this host lacks, in declaration order. */
    public Set<Capability> missing(Set<Capability> wanted) {
        Set<Capability> missing = EnumSet.noneOf(Capability.class);
        for (Capability c : wanted) {
            if (!has(c)) {
                missing.add(c);
            }
        }
        return missing;
    }

    /** Throws one {@link KvmUnavailableException} listing every capability of {@code wanted} the host lacks. */
    public void requireCapabilities(Capability... wanted) {
        Set<Capability> want = EnumSet.noneOf(Capability.class);
        Collections.addAll(want, wanted);
        Set<Capability> missing = missing(want);
        if (!missing.isEmpty()) {
            throw new KvmUnavailableException("this host's KVM lacks " + missing.stream().map(Capability::headerName)
                    .collect(Collectors.joining(", ")) + "; update the host kernel (Linux 4.11 or newer provides all of them)");
        }
    }

    /** Every capability in {@link Capability}: what a Ristretto machine needs. */
    public void requireAllCapabilities() {
        requireCapabilities(Capability.values());
    }

    /**
     * The most vCPUs a VM may have: KVM_CAP_MAX_VCPUS, else KVM_CAP_NR_VCPUS, else 4
     * (api.rst §4.7: "if neither is present, assume 4").
     */
    public int maxVcpus() {
        int max = checkExtension(KvmAbi.KVM_CAP_MAX_VCPUS);
        if (max > 0) {
            return max;
        }
        int nr = checkExtension(KvmAbi.KVM_CAP_NR_VCPUS);
        return nr > 0 ? nr : 4;
    }

    /** The recommended vCPU count (KVM_CAP_NR_VCPUS), for a warning when more are asked for. */
    public int recommendedVcpus() {
        int nr = checkExtension(KvmAbi.KVM_CAP_NR_VCPUS);
        return nr > 0 ? nr : 4;
    }

    /**
     * KVM_GET_SUPPORTED_CPUID (api.rst §4.46): the CPUID leaves KVM can expose. The buffer starts
     * at 128 entries and doubles while the kernel answers E2BIG.
     */
    public List<CpuidEntry> supportedCpuid() {
        for (int capacity = INITIAL_CPUID_ENTRIES; capacity <= MAX_CPUID_ENTRIES; capacity *= 2) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(CPUID2_HEADER.byteSize() + capacity * CPUID_ENTRY2.byteSize(), 8);
                buf.set(ValueLayout.JAVA_INT, 0, capacity);
                try {
                    call(KvmAbi.KVM_GET_SUPPORTED_CPUID, "KVM_GET_SUPPORTED_CPUID", buf);
                } catch (KvmException e) {
                    if (e.errno() == Errno.E2BIG) {
                        continue;
                    }
                    throw e;
                }
                int n = buf.get(ValueLayout.JAVA_INT, 0);
                List<CpuidEntry> entries = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    entries.add(Structs.readCpuidEntry(buf.asSlice(CPUID2_HEADER.byteSize() + i * CPUID_ENTRY2.byteSize(),
                            CPUID_ENTRY2.byteSize())));
                }
                return List.copyOf(entries);
            }
        }
        throw new KvmException("KVM_GET_SUPPORTED_CPUID", Errno.E2BIG,
                "KVM_GET_SUPPORTED_CPUID wants more than " + MAX_CPUID_ENTRIES + " entries", null);
    }

    /** KVM_GET_VCPU_MMAP_SIZE: the size of each vCPU's shared kvm_run mapping. */
    public int vcpuMmapSize() {
        return call(KvmAbi.KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE", 0);
    }

    /** KVM_CREATE_VM with the default machine type (0). */
    public VmFd createVm() {
        int vmFd = call(KvmAbi.KVM_CREATE_VM, "KVM_CREATE_VM", 0);
        return new VmFd(vmFd, vcpuMmapSize());
    }
}
