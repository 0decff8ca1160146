package dev.ristretto.vmm.kvm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HexFormat;
import java.util.List;

/**
 * Why KVM_RUN returned (api.rst §5, the {@code exit_reason} union of {@code struct kvm_run}).
 *
 * <p>Reads ({@link IoIn}, {@link MmioRead}) are completed by handing the data back with
 * {@code complete(...)} before the next KVM_RUN: KVM copies it into the guest's register or
 * memory when the vCPU is next run (api.rst §5, KVM_EXIT_IO and KVM_EXIT_MMIO). Their
 * {@code data} component is the window of kvm_run the kernel reads it from; tests pass a heap
 * segment instead.
 */
public sealed interface VcpuExit {

    /**
     * IN / INS from {@code port}: {@code count} items of {@code size} bytes (count &gt; 1 for
     * {@code rep insb/insw/insd}).
     */
    record IoIn(int port, int size, int count, MemorySegment data) implements VcpuExit {
        public IoIn {
            checkIo(port, size, count, data.byteSize());
        }

        /** Hands the bytes read back to KVM: exactly size × count bytes, item i at i × size. */
        public void complete(byte[] bytes) {
            if (bytes.length != data.byteSize()) {
                throw new IllegalArgumentException("IN from port 0x" + Integer.toHexString(port) + " needs "
                        + data.byteSize() + " bytes, got " + bytes.length);
            }
            MemorySegment.copy(bytes, 0, data, ValueLayout.JAVA_BYTE, 0, bytes.length);
        }
    }

    /** OUT / OUTS to {@code port}: {@code count} items of {@code size} bytes in {@code data}. */
    record IoOut(int port, int size, int count, byte[] data) implements VcpuExit {
        public IoOut {
            checkIo(port, size, count, data.length);
            data = data.clone();
        }

        @Override
        public byte[] data() {
            return data.clone();
        }

        @Override
        public String toString() {
            return "IoOut[port=0x" + Integer.toHexString(port) + ", size=" + size + ", count=" + count
                    + ", data=" + HexFormat.of().formatHex(data) + "]";
        }
    }

    /** A read of {@code length} (1..8) bytes at guest-physical {@code address} that no memory slot backs. */
    record MmioRead(long address, int length, MemorySegment data) implements VcpuExit {
        public MmioRead {
            checkMmioLength(length);
            if (data.byteSize() < length) {
                throw new IllegalArgumentException("MMIO read buffer of " + data.byteSize() + " bytes for a "
                        + length + "-byte read");
            }
        }

        /** Hands the value read back to KVM (little-endian, exactly {@code length} bytes). */
        public void complete(byte[] bytes) {
            if (bytes.length != length) {
                throw new IllegalArgumentException("MMIO read at 0x" + Long.toHexString(address) + " needs "
                        + length + " bytes, got " + bytes.length);
            }
            MemorySegment.copy(bytes, 0, data, ValueLayout.JAVA_BYTE, 0, bytes.length);
        }
    }

    /** A write of {@code data} (1..8 bytes, little-endian) at guest-physical {@code address}. */
    record MmioWrite(long address, byte[] data) implements VcpuExit {
        public MmioWrite {
            checkMmioLength(data.length);
            data = data.clone();
        }

        @Override
        public byte[] data() {
            return data.clone();
        }

        @Override
        public String toString() {
            return "MmioWrite[address=0x" + Long.toHexString(address) + ", data=" + HexFormat.of().formatHex(data) + "]";
        }
    }

    /** The guest executed HLT and KVM does not emulate it (no in-kernel LAPIC). */
    record Hlt() implements VcpuExit {
    }

    /**
     * The vCPU entered the shutdown state (api.rst KVM_EXIT_SHUTDOWN): a triple fault, i.e. a
     * fault while delivering a double fault (SDM vol 3 §6.15, interrupt 8). Guests also use it
     * deliberately as a last-resort reset.
     */
    record Shutdown() implements VcpuExit {
    }

    /**
     * The guest requested a system-level event (api.rst §5 KVM_EXIT_SYSTEM_EVENT): {@code type}
     * is KVM_SYSTEM_EVENT_SHUTDOWN (1), RESET (2), CRASH (3) ...; {@code data} holds the ndata
     * architecture-specific words (flags on older kernels).
     */
    record SystemEvent(int type, List<Long> data) implements VcpuExit {
        public static final int SHUTDOWN = 1;
        public static final int RESET = 2;
        public static final int CRASH = 3;

        public SystemEvent {
            data = List.copyOf(data);
        }

        public String typeName() {
            return switch (type) {
                case SHUTDOWN -> "shutdown";
                case RESET -> "reset";
                case CRASH -> "crash";
                case 4 -> "wakeup";
                case 5 -> "suspend";
                case 6 -> "SEV termination";
                default -> "type " + type;
            };
        }
    }

    /**
     * KVM could not go on (api.rst KVM_EXIT_INTERNAL_ERROR); most often suberror 1, an
     * instruction the in-kernel emulator cannot emulate. {@code data} holds the ndata words KVM
     * supplied (for suberror 1 with KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES, the
     * instruction bytes).
     */
    record InternalError(int suberror, List<Long> data) implements VcpuExit {
        public static final int EMULATION = 1;
        public static final int SIMUL_EX = 2;
        public static final int DELIVERY_EV = 3;
        public static final int UNEXPECTED_EXIT_REASON = 4;

        public InternalError {
            data = List.copyOf(data);
        }

        /** The header's meaning of the suberror. */
        public String suberrorName() {
            return switch (suberror) {
                case EMULATION -> "emulation failure";
                case SIMUL_EX -> "exception while delivering an exception (simultaneous exceptions)";
                case DELIVERY_EV -> "event delivery failed (e.g. a fault on the IDT or a stack switch)";
                case UNEXPECTED_EXIT_REASON -> "unexpected exit reason from the hardware";
                default -> "unknown suberror " + suberror;
            };
        }
    }

    /** VM entry failed (api.rst KVM_EXIT_FAIL_ENTRY): invalid guest state for the hardware. */
    record FailEntry(long hardwareReason, int cpu) implements VcpuExit {
    }

    /** KVM_RUN returned EINTR or KVM_EXIT_INTR: a signal or immediate_exit kicked the vCPU out. */
    record Interrupted() implements VcpuExit {
    }

    /** A debug exception while guest debugging is on (KVM_EXIT_DEBUG). */
    record Debug(int exception, long pc, long dr6, long dr7) implements VcpuExit {
    }

    /** An exit reason this VMM does not handle. */
    record Unknown(int reason) implements VcpuExit {
    }

    private static void checkIo(int port, int size, int count, long bytes) {
        if (port < 0 || port > 0xffff) {
            throw new IllegalArgumentException("I/O port " + port + " out of range");
        }
        if (size != 1 && size != 2 && size != 4) {
            throw new IllegalArgumentException("I/O access size " + size + " is not 1, 2 or 4");
        }
        if (count < 1 || bytes != (long) size * count) {
            throw new IllegalArgumentException("I/O access of " + count + " x " + size + " bytes with "
                    + bytes + " bytes of data");
        }
    }

    private static void checkMmioLength(int length) {
        if (length < 1 || length > 8) {
            throw new IllegalArgumentException("MMIO access length " + length + " is not 1..8");
        }
    }
}
