package dev.ristretto.vmm.kvm;

import static dev.ristretto.vmm.kvm.KvmAbi.CPUID2_HEADER;
import static dev.ristretto.vmm.kvm.KvmAbi.CPUID_ENTRY2;
import static dev.ristretto.vmm.kvm.KvmAbi.FPU;
import static dev.ristretto.vmm.kvm.KvmAbi.LAPIC_STATE;
import static dev.ristretto.vmm.kvm.KvmAbi.MSRS_HEADER;
import static dev.ristretto.vmm.kvm.KvmAbi.MSR_ENTRY;
import static dev.ristretto.vmm.kvm.KvmAbi.REGS;
import static dev.ristretto.vmm.kvm.KvmAbi.RUN_DEBUG;
import static dev.ristretto.vmm.kvm.KvmAbi.RUN_EXIT_UNION;
import static dev.ristretto.vmm.kvm.KvmAbi.RUN_FAIL_ENTRY;
import static dev.ristretto.vmm.kvm.KvmAbi.RUN_HEADER;
import static dev.ristretto.vmm.kvm.KvmAbi.RUN_INTERNAL;
import static dev.ristretto.vmm.kvm.KvmAbi.RUN_IO;
import static dev.ristretto.vmm.kvm.KvmAbi.RUN_MMIO;
import static dev.ristretto.vmm.kvm.KvmAbi.RUN_SYSTEM_EVENT;
import static dev.ristretto.vmm.kvm.KvmAbi.SREGS;
import static dev.ristretto.vmm.kvm.KvmAbi.TRANSLATION;

import dev.ristretto.vmm.sys.Errno;
import dev.ristretto.vmm.sys.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A virtual CPU (api.rst §4, "vcpu ioctls") and its shared {@code struct kvm_run} mapping.
 * {@link #run()} is meant for one thread at a time; {@link #setImmediateExit} may be called from
 * any thread (that is its purpose).
 */
public final class VcpuFd extends Ioctl {
    /** x87 FPU control word after FNINIT: all exceptions masked, 64-bit precision (SDM vol 1 §8.1.5). */
    public static final int FCW_DEFAULT = 0x37f;
    /** MXCSR after reset: all SIMD exceptions masked (SDM vol 1 §10.2.3). */
    public static final int MXCSR_DEFAULT = 0x1f80;
    /** Size of the LAPIC register page KVM_GET/SET_LAPIC transfer (api.rst §4.57). */
    public static final int LAPIC_SIZE = (int) LAPIC_STATE.byteSize();

    private static final VarHandle BYTE = ValueLayout.JAVA_BYTE.varHandle();

    private final int id;
    private final Arena runArena;
    private final MemorySegment run;

    @SuppressWarnings("restricted") // reinterpret: the size is exactly what mmap just mapped
    VcpuFd(int fd, int id, int mmapSize) {
        super(fd, "vCPU " + id);
        this.id = id;
        if (mmapSize < RUN_EXIT_UNION + RUN_INTERNAL.byteSize()) {
            throw new KvmException("KVM_GET_VCPU_MMAP_SIZE", 0, "kvm_run mapping of " + mmapSize + " bytes is too small", null);
        }
        MemorySegment addr = Libc.mmap(mmapSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0, "kvm_run");
        // A shared arena: other threads set immediate_exit; closing it invalidates every view of
        // kvm_run (no use-after-munmap) and the cleanup unmaps it.
        this.runArena = Arena.ofShared();
        this.run = addr.reinterpret(mmapSize, runArena, seg -> Libc.munmap(seg, mmapSize));
    }

    /** The vCPU id given to KVM_CREATE_VCPU. */
    public int id() {
        return id;
    }

    @Override
    void release() {
        runArena.close();
    }

    public Regs getRegs() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(REGS);
            call(KvmAbi.KVM_GET_REGS, "KVM_GET_REGS", m);
            return Structs.readRegs(m);
        }
    }

    public void setRegs(Regs regs) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(REGS);
            Structs.writeRegs(m, regs);
            call(KvmAbi.KVM_SET_REGS, "KVM_SET_REGS", m);
        }
    }

    public Sregs getSregs() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(SREGS);
            call(KvmAbi.KVM_GET_SREGS, "KVM_GET_SREGS", m);
            return Structs.readSregs(m);
        }
    }

    public void setSregs(Sregs sregs) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(SREGS);
            Structs.writeSregs(m, sregs);
            call(KvmAbi.KVM_SET_SREGS, "KVM_SET_SREGS", m);
        }
    }

    /**
     * KVM_SET_FPU with an otherwise clean state: {@code fcw} and {@code mxcsr} (use
     * {@link #FCW_DEFAULT} and {@link #MXCSR_DEFAULT} for the state FNINIT/reset leaves).
     */
    public void setFpu(int fcw, int mxcsr) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(FPU); // zero: empty x87 stack, clear XMM registers
            m.set(ValueLayout.JAVA_SHORT, Structs.offset(FPU, "fcw"), (short) fcw);
            m.set(ValueLayout.JAVA_INT, Structs.offset(FPU, "mxcsr"), mxcsr);
            call(KvmAbi.KVM_SET_FPU, "KVM_SET_FPU", m);
        }
    }

    /**
     * KVM_SET_MSRS (api.rst §4.19). The ioctl returns how many MSRs it set and stops at the first
     * it refuses, so a short count is an error naming that MSR. Iteration order of {@code msrs}
     * is the order they are written.
     */
    public void setMsrs(Map<Integer, Long> msrs) {
        List<Map.Entry<Integer, Long>> entries = new ArrayList<>(msrs.entrySet());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(MSRS_HEADER.byteSize() + entries.size() * MSR_ENTRY.byteSize(), 8);
            m.set(ValueLayout.JAVA_INT, Structs.offset(MSRS_HEADER, "nmsrs"), entries.size());
            for (int i = 0; i < entries.size(); i++) {
                long base = MSRS_HEADER.byteSize() + i * MSR_ENTRY.byteSize();
                m.set(ValueLayout.JAVA_INT, base + Structs.offset(MSR_ENTRY, "index"), entries.get(i).getKey());
                m.set(ValueLayout.JAVA_LONG, base + Structs.offset(MSR_ENTRY, "data"), entries.get(i).getValue());
            }
            int written = call(KvmAbi.KVM_SET_MSRS, "KVM_SET_MSRS", m);
            if (written != entries.size()) {
                Map.Entry<Integer, Long> refused = entries.get(written);
                throw new KvmException("KVM_SET_MSRS", 0, "vCPU " + id + ": KVM_SET_MSRS set " + written + " of "
                        + entries.size() + " MSRs; it refused MSR 0x" + Integer.toHexString(refused.getKey())
                        + " = 0x" + Long.toHexString(refused.getValue()), null);
            }
        }
    }

    /** KVM_SET_CPUID2 (api.rst §4.47): what CPUID returns to the guest. Before the first run. */
    public void setCpuid(List<CpuidEntry> entries) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(CPUID2_HEADER.byteSize() + entries.size() * CPUID_ENTRY2.byteSize(), 8);
            m.set(ValueLayout.JAVA_INT, Structs.offset(CPUID2_HEADER, "nent"), entries.size());
            for (int i = 0; i < entries.size(); i++) {
                Structs.writeCpuidEntry(m.asSlice(CPUID2_HEADER.byteSize() + i * CPUID_ENTRY2.byteSize(),
                        CPUID_ENTRY2.byteSize()), entries.get(i));
            }
            call(KvmAbi.KVM_SET_CPUID2, "KVM_SET_CPUID2", m);
        }
    }

    /** KVM_GET_LAPIC: the 1 KiB LAPIC register page (register at offset R is at byte R). Needs the in-kernel irqchip. */
    public byte[] getLapic() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(LAPIC_STATE);
            call(KvmAbi.KVM_GET_LAPIC, "KVM_GET_LAPIC", m);
            return m.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    public void setLapic(byte[] regs) {
        if (regs.length != LAPIC_SIZE) {
            throw new IllegalArgumentException("LAPIC state is " + LAPIC_SIZE + " bytes, got " + regs.length);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(LAPIC_STATE);
            MemorySegment.copy(regs, 0, m, ValueLayout.JAVA_BYTE, 0, regs.length);
            call(KvmAbi.KVM_SET_LAPIC, "KVM_SET_LAPIC", m);
        }
    }

    /** KVM_TRANSLATE (api.rst §4.15): linear → guest-physical under the vCPU's current paging. */
    public Translation translate(long linear) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(TRANSLATION);
            m.set(ValueLayout.JAVA_LONG, Structs.offset(TRANSLATION, "linear_address"), linear);
            call(KvmAbi.KVM_TRANSLATE, "KVM_TRANSLATE", m);
            return new Translation(linear,
                    m.get(ValueLayout.JAVA_LONG, Structs.offset(TRANSLATION, "physical_address")),
                    m.get(ValueLayout.JAVA_BYTE, Structs.offset(TRANSLATION, "valid")) != 0,
                    m.get(ValueLayout.JAVA_BYTE, Structs.offset(TRANSLATION, "writeable")) != 0,
                    m.get(ValueLayout.JAVA_BYTE, Structs.offset(TRANSLATION, "usermode")) != 0);
        }
    }

    /**
     * kvm_run.immediate_exit (api.rst §5, KVM_CAP_IMMEDIATE_EXIT): while set, KVM_RUN returns
     * EINTR at once instead of entering the guest. Set it before signalling the vCPU thread, so a
     * signal that lands just before KVM_RUN is not lost. Safe from any thread.
     */
    public void setImmediateExit(boolean on) {
        BYTE.setVolatile(run, Structs.offset(RUN_HEADER, "immediate_exit"), (byte) (on ? 1 : 0));
    }

    public boolean immediateExit() {
        return (byte) BYTE.getVolatile(run, Structs.offset(RUN_HEADER, "immediate_exit")) != 0;
    }

    /**
     * KVM_RUN (api.rst §4.10): runs the guest until it needs us. EINTR (a signal or
     * immediate_exit) is an ordinary {@link VcpuExit.Interrupted}, not an error; so is EAGAIN,
     * which x86 KVM returns when an application processor waiting in KVM_MP_STATE_UNINITIALIZED
     * is woken by INIT/SIPI (arch/x86/kvm/x86.c, kvm_arch_vcpu_ioctl_run): the AP has just been
     * started and the caller simply runs it again. A pending
     * {@link VcpuExit.IoIn} / {@link VcpuExit.MmioRead} must be completed before calling again.
     */
    public VcpuExit run() {
        int ret = Libc.ioctlRaw(fd(), KvmAbi.KVM_RUN, 0);
        if (ret < 0) {
            int errno = -ret;
            if (errno == Errno.EINTR || errno == Errno.EAGAIN) {
                return new VcpuExit.Interrupted();
            }
            throw new KvmException("KVM_RUN", errno, "vCPU " + id + ": KVM_RUN failed: " + Libc.strerror(errno)
                    + " (errno " + errno + ")", null);
        }
        return decodeExit();
    }

    private VcpuExit decodeExit() {
        int reason = run.get(ValueLayout.JAVA_INT, Structs.offset(RUN_HEADER, "exit_reason"));
        MemorySegment u = run.asSlice(RUN_EXIT_UNION);
        return switch (reason) {
            case KvmAbi.KVM_EXIT_IO -> decodeIo(u);
            case KvmAbi.KVM_EXIT_MMIO -> decodeMmio(u);
            case KvmAbi.KVM_EXIT_HLT -> new VcpuExit.Hlt();
            case KvmAbi.KVM_EXIT_SHUTDOWN -> new VcpuExit.Shutdown();
            case KvmAbi.KVM_EXIT_INTR -> new VcpuExit.Interrupted();
            case KvmAbi.KVM_EXIT_SYSTEM_EVENT -> new VcpuExit.SystemEvent(
                    u.get(ValueLayout.JAVA_INT, Structs.offset(RUN_SYSTEM_EVENT, "type")),
                    words(u, Structs.offset(RUN_SYSTEM_EVENT, "ndata"), Structs.offset(RUN_SYSTEM_EVENT, "data")));
            case KvmAbi.KVM_EXIT_INTERNAL_ERROR -> new VcpuExit.InternalError(
                    u.get(ValueLayout.JAVA_INT, Structs.offset(RUN_INTERNAL, "suberror")),
                    words(u, Structs.offset(RUN_INTERNAL, "ndata"), Structs.offset(RUN_INTERNAL, "data")));
            case KvmAbi.KVM_EXIT_FAIL_ENTRY -> new VcpuExit.FailEntry(
                    u.get(ValueLayout.JAVA_LONG, Structs.offset(RUN_FAIL_ENTRY, "hardware_entry_failure_reason")),
                    u.get(ValueLayout.JAVA_INT, Structs.offset(RUN_FAIL_ENTRY, "cpu")));
            case KvmAbi.KVM_EXIT_DEBUG -> new VcpuExit.Debug(
                    u.get(ValueLayout.JAVA_INT, Structs.offset(RUN_DEBUG, "exception")),
                    u.get(ValueLayout.JAVA_LONG, Structs.offset(RUN_DEBUG, "pc")),
                    u.get(ValueLayout.JAVA_LONG, Structs.offset(RUN_DEBUG, "dr6")),
                    u.get(ValueLayout.JAVA_LONG, Structs.offset(RUN_DEBUG, "dr7")));
            default -> new VcpuExit.Unknown(reason);
        };
    }

    /** ndata words (at most the 16 the union holds; older kernels leave ndata 0). */
    private static List<Long> words(MemorySegment u, long ndataOffset, long dataOffset) {
        int n = Math.min(Math.max(u.get(ValueLayout.JAVA_INT, ndataOffset), 0), 16);
        List<Long> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(u.get(ValueLayout.JAVA_LONG, dataOffset + 8L * i));
        }
        return out;
    }

    private VcpuExit decodeIo(MemorySegment u) {
        int direction = u.get(ValueLayout.JAVA_BYTE, Structs.offset(RUN_IO, "direction"));
        int size = u.get(ValueLayout.JAVA_BYTE, Structs.offset(RUN_IO, "size"));
        int port = Short.toUnsignedInt(u.get(ValueLayout.JAVA_SHORT, Structs.offset(RUN_IO, "port")));
        int count = u.get(ValueLayout.JAVA_INT, Structs.offset(RUN_IO, "count"));
        long dataOffset = u.get(ValueLayout.JAVA_LONG, Structs.offset(RUN_IO, "data_offset"));
        long bytes = (long) size * count;
        // The kernel places the data inside the kvm_run mapping (api.rst: "data_offset ... from
        // the start of the kvm_run structure"); check before slicing so a bad value is an error
        // here rather than an out-of-bounds access later.
        if (size <= 0 || count <= 0 || dataOffset < RUN_EXIT_UNION || dataOffset > run.byteSize() - bytes) {
            throw new KvmException("KVM_RUN", 0, "vCPU " + id + ": KVM_EXIT_IO with size " + size + ", count "
                    + count + ", data_offset " + dataOffset + " outside the " + run.byteSize() + "-byte kvm_run", null);
        }
        MemorySegment data = run.asSlice(dataOffset, bytes);
        return direction == KvmAbi.EXIT_IO_OUT
                ? new VcpuExit.IoOut(port, size, count, data.toArray(ValueLayout.JAVA_BYTE))
                : new VcpuExit.IoIn(port, size, count, data);
    }

    private static VcpuExit decodeMmio(MemorySegment u) {
        long addr = u.get(ValueLayout.JAVA_LONG, Structs.offset(RUN_MMIO, "phys_addr"));
        int len = u.get(ValueLayout.JAVA_INT, Structs.offset(RUN_MMIO, "len"));
        boolean write = u.get(ValueLayout.JAVA_BYTE, Structs.offset(RUN_MMIO, "is_write")) != 0;
        MemorySegment data = u.asSlice(Structs.offset(RUN_MMIO, "data"), 8);
        if (len < 1 || len > 8) {
            throw new KvmException("KVM_RUN", 0, "KVM_EXIT_MMIO with length " + len + " (not 1..8)", null);
        }
        return write
                ? new VcpuExit.MmioWrite(addr, data.asSlice(0, len).toArray(ValueLayout.JAVA_BYTE))
                : new VcpuExit.MmioRead(addr, len, data.asSlice(0, len));
    }
}
