package dev.ristretto.vmm.vcpu;

import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.kvm.VcpuExit;

/**
 * Dispatches one vCPU exit to the buses and decides whether the vCPU runs on — a pure function of
 * (exit, buses) so it can be tested without KVM (the shape of Firecracker's
 * {@code handle_kvm_exit}). Port accesses go to the I/O bus, MMIO to the MMIO bus; reads are
 * completed into the exit's data window before returning, as KVM requires before the next
 * KVM_RUN (api.rst §5, KVM_EXIT_IO / KVM_EXIT_MMIO). Unclaimed addresses are the bus's business
 * (reads see all-ones, both are counted); they never stop the VM.
 */
public final class ExitHandler {
    private ExitHandler() {
    }

    public static ExitOutcome handle(VcpuExit exit, Bus io, Bus mmio) {
        return switch (exit) {
            case VcpuExit.IoIn in -> {
                // String I/O (rep ins) arrives as count items of size bytes; each item is a
                // separate access to the port, in order.
                byte[] all = new byte[in.size() * in.count()];
                byte[] item = new byte[in.size()];
                for (int i = 0; i < in.count(); i++) {
                    io.read(in.port(), item);
                    System.arraycopy(item, 0, all, i * in.size(), in.size());
                }
                in.complete(all);
                yield ExitOutcome.CONTINUE;
            }
            case VcpuExit.IoOut out -> {
                byte[] all = out.data();
                for (int i = 0; i < out.count(); i++) {
                    byte[] item = new byte[out.size()];
                    System.arraycopy(all, i * out.size(), item, 0, out.size());
                    io.write(out.port(), item);
                }
                yield ExitOutcome.CONTINUE;
            }
            case VcpuExit.MmioRead read -> {
                byte[] value = new byte[read.length()];
                mmio.read(read.address(), value);
                read.complete(value);
                yield ExitOutcome.CONTINUE;
            }
            case VcpuExit.MmioWrite write -> {
                mmio.write(write.address(), write.data());
                yield ExitOutcome.CONTINUE;
            }
            // A kick (stop/pause) or a stray signal: the run loop decides what the kick meant.
            case VcpuExit.Interrupted ignored -> ExitOutcome.CONTINUE;
            case VcpuExit.Hlt ignored -> new ExitOutcome.Stop(ExitOutcome.Reason.HALT, "the guest halted (HLT)");
            case VcpuExit.Shutdown ignored -> new ExitOutcome.Stop(ExitOutcome.Reason.SHUTDOWN,
                    "the guest shut down (triple fault)");
            case VcpuExit.SystemEvent ev -> switch (ev.type()) {
                case VcpuExit.SystemEvent.SHUTDOWN -> new ExitOutcome.Stop(ExitOutcome.Reason.POWER_OFF,
                        "the guest powered off");
                case VcpuExit.SystemEvent.RESET -> new ExitOutcome.Stop(ExitOutcome.Reason.RESET,
                        "the guest requested a reset");
                default -> new ExitOutcome.Stop(ExitOutcome.Reason.SYSTEM_EVENT,
                        "system event: " + ev.typeName() + " " + ev.data());
            };
            case VcpuExit.InternalError err -> new ExitOutcome.Stop(ExitOutcome.Reason.INTERNAL_ERROR,
                    "KVM internal error, suberror " + err.suberror() + ": " + err.suberrorName());
            case VcpuExit.FailEntry fail -> new ExitOutcome.Stop(ExitOutcome.Reason.FAIL_ENTRY,
                    "VM entry failed, hardware reason 0x" + Long.toHexString(fail.hardwareReason()) + " on host CPU " + fail.cpu());
            case VcpuExit.Debug dbg -> new ExitOutcome.Stop(ExitOutcome.Reason.DEBUG,
                    "unexpected debug exit, exception " + dbg.exception() + " at 0x" + Long.toHexString(dbg.pc()));
            case VcpuExit.Unknown unknown -> new ExitOutcome.Stop(ExitOutcome.Reason.UNKNOWN_EXIT,
                    "unhandled KVM exit reason " + unknown.reason());
        };
    }
}
