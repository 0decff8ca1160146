package dev.ristretto.vmm.check;

import dev.ristretto.vmm.host.HostMemory;
import dev.ristretto.vmm.host.HostMemoryException;
import dev.ristretto.vmm.kvm.DescriptorTable;
import dev.ristretto.vmm.kvm.Kvm;
import dev.ristretto.vmm.kvm.KvmException;
import dev.ristretto.vmm.kvm.Regs;
import dev.ristretto.vmm.kvm.Segment;
import dev.ristretto.vmm.kvm.Sregs;
import dev.ristretto.vmm.kvm.VcpuExit;
import dev.ristretto.vmm.kvm.VcpuFd;
import dev.ristretto.vmm.kvm.VmFd;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.memory.RamRange;
import dev.ristretto.vmm.sys.Libc;
import dev.ristretto.vmm.sys.Signals;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Decides whether this host's KVM runs unmodified guest code natively by running a tiny 64-bit
 * guest through instructions that KVM's instruction emulator (arch/x86/kvm/emulate.c) cannot
 * run, and watching how it ends.
 *
 * <p>With VT-x/AMD-V (bare metal or nested) the guest's instructions run on the CPU and none of
 * these causes a VM exit. A KVM without them (PVM, the kvm_pvm module, on a host whose CPU has
 * no VMX/SVM flag) runs code that is not a PVM-enabled kernel through that emulator, and where
 * it gives up KVM reports KVM_EXIT_INTERNAL_ERROR with suberror KVM_INTERNAL_ERROR_EMULATION
 * (api.rst §5). The guest tries, in order:
 * <ol>
 * <li>{@code iretq} in 64-bit mode: every kernel returns from its first interrupt with it. The
 *     guest needs no IDT: it builds the interrupt-return frame itself (SDM vol 3 §6.14.3, "IRET
 *     in IA-32e mode": RIP, CS, RFLAGS, RSP, SS popped in that order) and returns to the next
 *     instruction. Measured on this project's PVM host: this same-privilege form gets through.
 * <li>{@code cmpxchg16b} (CPUID.01H:ECX.CX16, on every x86-64 CPU since 2006): Linux uses it
 *     (e.g. in its slab allocator); the emulator's em_cmpxchg8b answers X86EMUL_UNHANDLEABLE
 *     when the operand is 16 bytes. Measured on the PVM host: emulation failure.
 * </ol>
 * Patches that teach the emulator cmpxchg16b have been posted to the KVM list; once a kernel
 * carries them, this probe needs another instruction the emulator lacks (e.g. xsave).
 *
 * <p>Each step writes a marker to {@link #PORT}, so the verdict names the instruction that failed.
 */
public final class NativeProbe {
    /** The port the probe guest reports on; the probe VM has no devices, so any port is free. */
    static final int PORT = 0x5b0;
    static final byte STARTED = 'S';
    static final byte PASSED_IRETQ = 'I';
    static final byte PASSED_ALL = 'N';

    /**
     * <pre>
     *   mov dx, 0x5b0 ; mov al, 'S' ; out dx, al   ; the guest runs
     *   mov rax, rsp
     *   push 0x10 ; push rax ; pushfq             ; SS, RSP, RFLAGS
     *   push 0x08 ; lea rax, [rip + 1f] ; push rax ; CS, RIP
     *   iretq
     * 1: mov al, 'I' ; out dx, al                  ; iretq ran
     *   mov esi, 0x20000 ; xor eax, eax ; xor edx, edx ; xor ebx, ebx ; xor ecx, ecx
     *   cmpxchg16b [rsi]                           ; RDX:RAX (0) equals the zeroed memory: stores RCX:RBX
     *   mov dx, 0x5b0 ; mov al, 'N' ; out dx, al ; hlt
     * </pre>
     * Assembled with GNU as (x86-64, the same instructions in AT&T syntax).
     */
    static final byte[] CODE = HexFormat.of().parseHex("66bab005b053ee4889e06a10509c6a08488d05030000005048cf"
            + "b049eebe0000020031c031d231db31c9480fc70e66bab005b04eeef4");

    // Guest-physical layout inside the probe's 2 MiB of RAM (all below CODE).
    static final long RAM_SIZE = 2L << 20;
    static final long GDT = 0x500;
    static final long PML4 = 0x1000;
    static final long PDPT = 0x2000;
    static final long PD = 0x3000;
    static final long STACK_TOP = 0x8000;
    static final long CODE_ADDR = 0x10000;
    /** KVM_SET_TSS_ADDR / KVM_SET_IDENTITY_MAP_ADDR: 3 + 1 pages below 4 GiB, outside RAM (api.rst §4.39, §4.51). */
    static final long TSS_ADDR = 0xfffb_d000L;
    static final long IDENTITY_MAP_ADDR = 0xfffb_c000L;

    // GDT (SDM vol 3 §3.4.5): 64-bit code (L=1), flat data, 64-bit busy TSS (VM entry in IA-32e
    // mode requires TR to be a busy 64-bit TSS, SDM vol 3 §27.3.1.2).
    static final long GDT_CODE64 = 0x00af_9b00_0000_ffffL;
    static final long GDT_DATA = 0x00cf_9300_0000_ffffL;
    static final long GDT_TSS64 = 0x0000_8b00_0000_0067L;
    static final int CS = 0x08;
    static final int DS = 0x10;
    static final int TR = 0x18;

    // Page-table entry bits (SDM vol 3 §4.5, Tables 4-15 to 4-20).
    private static final long PRESENT = 1;
    private static final long WRITABLE = 2;
    private static final long PAGE_SIZE_2M = 0x80;

    /** How long the guest may take: in the emulator it runs ~25 instructions, far below this. */
    public static final Duration TIME_LIMIT = Duration.ofSeconds(10);

    /** How the probe ended. */
    public enum Outcome {
        /** The guest got past every probe instruction: unmodified guests run natively. */
        NATIVE,
        /** KVM's emulator could not run a probe instruction: only emulated execution is available. */
        EMULATION_ONLY,
        /** The guest ended some other way; the detail says how. */
        INCONCLUSIVE,
        /** Not attempted (no usable /dev/kvm). */
        NOT_RUN
    }

    /** @param detail one sentence on what happened, for the report */
    public record Result(Outcome outcome, String detail) {
        public Result {
            Objects.requireNonNull(outcome);
            Objects.requireNonNull(detail);
        }
    }

    private NativeProbe() {
    }

    /** Runs the probe guest in a new VM of {@code kvm}; never throws for what the host does. */
    public static Result run(Kvm kvm) {
        return run(kvm, CODE, TIME_LIMIT);
    }

    /** Runs {@code code} at {@link #CODE_ADDR} instead (tests use a guest that never ends). */
    static Result run(Kvm kvm, byte[] code, Duration limit) {
        // RAM first so it is unmapped after the VM that uses it is gone.
        try (HostMemory ram = HostMemory.mapAnonymous(List.of(new RamRange(GuestAddress.of(0), RAM_SIZE)));
                VmFd vm = kvm.createVm()) {
            vm.setTssAddr(GuestAddress.of(TSS_ADDR));
            vm.setIdentityMapAddr(GuestAddress.of(IDENTITY_MAP_ADDR));
            GuestMemory memory = ram.guestMemory();
            vm.setUserMemoryRegion(0, GuestAddress.of(0), memory.regions().get(0).segment(), 0);
            writeLongModeTables(memory);
            memory.write(GuestAddress.of(CODE_ADDR), code);
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                vcpu.setSregs(longMode(vcpu.getSregs()));
                vcpu.setRegs(Regs.initial().withRip(CODE_ADDR).withRsp(STACK_TOP));
                return runGuest(vcpu, limit);
            }
        } catch (KvmException | HostMemoryException e) {
            return new Result(Outcome.INCONCLUSIVE, "the probe VM could not be set up: " + e.getMessage());
        }
    }

    /** GDT plus an identity map of the first 2 MiB with one 2 MiB page: all the probe touches. */
    static void writeLongModeTables(GuestMemory m) {
        m.writeLong(GuestAddress.of(GDT), 0);
        m.writeLong(GuestAddress.of(GDT + CS), GDT_CODE64);
        m.writeLong(GuestAddress.of(GDT + DS), GDT_DATA);
        m.writeLong(GuestAddress.of(GDT + TR), GDT_TSS64);
        m.writeLong(GuestAddress.of(GDT + TR + 8), 0); // upper half of the 16-byte TSS descriptor
        m.writeLong(GuestAddress.of(PML4), PDPT | PRESENT | WRITABLE);
        m.writeLong(GuestAddress.of(PDPT), PD | PRESENT | WRITABLE);
        m.writeLong(GuestAddress.of(PD), PRESENT | WRITABLE | PAGE_SIZE_2M); // frame 0
    }

    /** 64-bit mode at CPL 0, paging through {@link #PML4}, no IDT (the probe takes no interrupt). */
    static Sregs longMode(Sregs s) {
        return s.withCs(Segment.fromDescriptor(CS, GDT_CODE64))
                .withDataSegments(Segment.fromDescriptor(DS, GDT_DATA))
                .withTr(Segment.fromDescriptor(TR, GDT_TSS64))
                .withGdt(new DescriptorTable(GDT, 5 * 8 - 1))
                .withCr3(PML4)
                .withCr4(Sregs.CR4_PAE)
                .withCr0(Sregs.CR0_PE | Sregs.CR0_MP | Sregs.CR0_ET | Sregs.CR0_NE | Sregs.CR0_PG)
                .withEfer(Sregs.EFER_LME | Sregs.EFER_LMA);
    }

    /**
     * KVM_RUN on a named platform thread of its own (vCPUs never run on virtual threads); past
     * {@code limit} it is kicked out with immediate_exit and the kick signal, as
     * VcpuRunner stops a vCPU.
     */
    private static Result runGuest(VcpuFd vcpu, Duration limit) {
        Signals.kickSignal(); // install the handler before the thread can be signalled
        CompletableFuture<Long> pthread = new CompletableFuture<>();
        CompletableFuture<Result> result = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().name("vcpu-probe").daemon().start(() -> {
            pthread.complete(Libc.pthreadSelf());
            try {
                result.complete(watch(vcpu));
            } catch (RuntimeException e) {
                result.complete(new Result(Outcome.INCONCLUSIVE, "KVM_RUN failed: " + e.getMessage()));
            } catch (Error e) {
                result.completeExceptionally(e); // never leave the caller waiting on a dead thread
                throw e;
            }
        });
        try {
            return result.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            stop(vcpu, pthread.join(), result, t);
            return new Result(Outcome.INCONCLUSIVE, "the probe guest did not finish within " + limit.toMillis()
                    + " ms");
        } catch (ExecutionException e) {
            throw new IllegalStateException("the probe thread failed", e.getCause());
        } catch (InterruptedException e) {
            stop(vcpu, pthread.join(), result, t);
            Thread.currentThread().interrupt();
            return new Result(Outcome.INCONCLUSIVE, "interrupted while the probe guest ran");
        }
    }

    /**
     * Kicks the vCPU thread out of KVM_RUN until it has reported, then waits for it to end: the
     * vCPU fd must not be closed under a running KVM_RUN. The thread is alive while the result
     * is not done (it completes the result last), so the signal never targets a dead thread.
     */
    private static void stop(VcpuFd vcpu, long pthread, CompletableFuture<Result> result, Thread t) {
        vcpu.setImmediateExit(true);
        boolean interrupted = false;
        while (!result.isDone()) {
            Signals.kick(pthread);
            try {
                result.get(10, TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                // not yet, or the thread died: the loop condition decides
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        while (true) {
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Runs until the guest reports past every probe instruction or stops; the decision is {@link #classify}. */
    private static Result watch(VcpuFd vcpu) {
        byte last = 0;
        while (true) {
            VcpuExit exit = vcpu.run();
            if (exit instanceof VcpuExit.Interrupted && !vcpu.immediateExit()) {
                continue; // a stray signal, not our kick: KVM_RUN again
            }
            byte marker = marker(exit);
            if (marker == STARTED && last == 0 || marker == PASSED_IRETQ && last == STARTED) {
                last = marker;
                continue;
            }
            return classify(last, exit);
        }
    }

    private static byte marker(VcpuExit exit) {
        if (exit instanceof VcpuExit.IoOut out && out.port() == PORT && out.size() == 1 && out.count() == 1) {
            return out.data()[0];
        }
        return 0;
    }

    /**
     * The verdict from the first exit after marker {@code last} (0 before any) that is not the
     * next progress marker. Pure, so the mapping is tested without KVM.
     */
    static Result classify(byte last, VcpuExit exit) {
        if (last == PASSED_IRETQ && marker(exit) == PASSED_ALL) {
            return new Result(Outcome.NATIVE, "a 64-bit test guest ran iretq and cmpxchg16b");
        }
        if (last == 0) {
            return new Result(Outcome.INCONCLUSIVE, "the probe guest stopped before its first instruction completed: "
                    + describe(exit));
        }
        String instruction = last == STARTED ? "iretq" : "cmpxchg16b";
        if (exit instanceof VcpuExit.InternalError err && err.suberror() == VcpuExit.InternalError.EMULATION) {
            return new Result(Outcome.EMULATION_ONLY, instruction + " in a 64-bit test guest ended in"
                    + " KVM_EXIT_INTERNAL_ERROR (emulation failure): KVM ran the guest in its instruction emulator");
        }
        return new Result(Outcome.INCONCLUSIVE, "the probe guest ended unexpectedly at " + instruction + ": "
                + describe(exit));
    }

    private static String describe(VcpuExit exit) {
        return switch (exit) {
            case VcpuExit.InternalError e -> "KVM_EXIT_INTERNAL_ERROR, " + e.suberrorName();
            case VcpuExit.FailEntry f -> "KVM_EXIT_FAIL_ENTRY, hardware reason 0x" + Long.toHexString(f.hardwareReason());
            case VcpuExit.Shutdown s -> "KVM_EXIT_SHUTDOWN (triple fault)";
            case VcpuExit.Hlt h -> "KVM_EXIT_HLT before the marker";
            default -> exit.toString();
        };
    }
}
