package dev.ristretto.vmm.vcpu;

import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.host.HostMemory;
import dev.ristretto.vmm.memory.RamRange;
import dev.ristretto.vmm.kvm.DescriptorTable;
import dev.ristretto.vmm.kvm.Kvm;
import dev.ristretto.vmm.kvm.KvmTestSupport;
import dev.ristretto.vmm.kvm.Regs;
import dev.ristretto.vmm.kvm.Segment;
import dev.ristretto.vmm.kvm.Sregs;
import dev.ristretto.vmm.kvm.VcpuExit;
import dev.ristretto.vmm.kvm.VcpuFd;
import dev.ristretto.vmm.kvm.VmFd;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.sys.Libc;
import dev.ristretto.vmm.sys.Signals;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A minimal VM for tests: RAM at guest-physical 0, vCPUs, and helpers that put a vCPU into real
 * mode or 64-bit mode at a given RIP. The long-mode setup builds its own GDT and page tables
 * (identity map of the low 4 GiB with 2 MiB pages) because firmware lives in another module.
 */
final class TinyVm implements AutoCloseable {
    static final long RAM_SIZE = 2 << 20;
    // Layout of the low RAM used by long mode (all below the guest code at CODE).
    static final long GDT = 0x500;
    static final long PML4 = 0x1000;
    static final long PDPT = 0x2000;
    static final long PD = 0x3000; // four page directories: 0x3000-0x6fff
    static final long CODE = 0x10000;
    static final long DATA = 0x20000;
    /** An address in the 3-4 GiB hole: mapped by the page tables, backed by no memory slot → MMIO. */
    static final long MMIO_BASE = 0xd000_0000L;

    // GDT entries (SDM vol 3 §3.4.5): 64-bit code (L=1, D=0), flat data, and a 64-bit busy TSS,
    // which VM entry requires in IA-32e mode (SDM vol 3 §27.3.1.2: TR type 11).
    static final long GDT_CODE64 = 0x00af_9b00_0000_ffffL;
    static final long GDT_DATA = 0x00cf_9300_0000_ffffL;
    static final long GDT_TSS64 = 0x0000_8b00_0000_0067L;

    final Kvm kvm;
    final VmFd vm;
    final HostMemory ram;
    final List<VcpuFd> vcpus = new ArrayList<>();
    private boolean vcpusHandedOver;

    private TinyVm(Kvm kvm, VmFd vm, HostMemory ram) {
        this.kvm = kvm;
        this.vm = vm;
        this.ram = ram;
    }

    /** A VM with {@code vcpuCount} vCPUs, no irqchip (so HLT reaches us), 2 MiB RAM. Skips without KVM. */
    static TinyVm create(int vcpuCount) {
        Kvm kvm = KvmTestSupport.openOrSkip();
        VmFd vm = kvm.createVm();
        HostMemory ram = HostMemory.mapAnonymous(List.of(new RamRange(GuestAddress.of(0), RAM_SIZE)));
        TinyVm t = new TinyVm(kvm, vm, ram);
        try {
            vm.setTssAddr(GuestAddress.of(0xfffb_d000L));
            vm.setIdentityMapAddr(GuestAddress.of(0xfffb_c000L));
            vm.setUserMemoryRegion(0, GuestAddress.of(0), ram.guestMemory().regions().get(0).segment(), 0);
            for (int i = 0; i < vcpuCount; i++) {
                t.vcpus.add(vm.createVcpu(i));
            }
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        return t;
    }

    GuestMemory memory() {
        return ram.guestMemory();
    }

    VcpuFd vcpu(int i) {
        return vcpus.get(i);
    }

    /** The runner now owns (and closes) the vCPU fds. */
    VcpuRunner runner(Bus io, Bus mmio, VcpuRunner.Listener listener) {
        vcpusHandedOver = true;
        return new VcpuRunner(vcpus, io, mmio, memory(), listener);
    }

    void load(long gpa, byte[] code) {
        memory().write(GuestAddress.of(gpa), code);
    }

    /** Real mode, CS = DS = ES = SS = 0, at {@code rip}. */
    void realMode(VcpuFd vcpu, long rip) {
        Sregs s = vcpu.getSregs();
        vcpu.setSregs(s.withCs(s.cs().withBase(0).withSelector(0)));
        vcpu.setRegs(Regs.initial().withRip(rip).withRsp(0x8000));
    }

    /** Writes the GDT and the 4 GiB identity map (idempotent). */
    void buildLongModeTables() {
        GuestMemory m = memory();
        m.writeLong(GuestAddress.of(GDT), 0);
        m.writeLong(GuestAddress.of(GDT + 8), GDT_CODE64);
        m.writeLong(GuestAddress.of(GDT + 16), GDT_DATA);
        m.writeLong(GuestAddress.of(GDT + 24), GDT_TSS64);
        m.writeLong(GuestAddress.of(GDT + 32), 0); // upper half of the 16-byte TSS descriptor
        final long present = 1;
        final long writable = 2;
        final long pageSize = 0x80;
        m.writeLong(GuestAddress.of(PML4), PDPT | present | writable);
        for (int i = 0; i < 4; i++) {
            long pd = PD + i * 0x1000L;
            m.writeLong(GuestAddress.of(PDPT + 8L * i), pd | present | writable);
            for (int j = 0; j < 512; j++) {
                long frame = ((long) i << 30) | ((long) j << 21);
                m.writeLong(GuestAddress.of(pd + 8L * j), frame | present | writable | pageSize);
            }
        }
    }

    /** 64-bit mode, paging on with the identity map, SSE enabled, at {@code rip}. */
    void longMode(VcpuFd vcpu, long rip) {
        buildLongModeTables();
        Segment code = Segment.fromDescriptor(0x08, GDT_CODE64);
        Segment data = Segment.fromDescriptor(0x10, GDT_DATA);
        Segment tss = Segment.fromDescriptor(0x18, GDT_TSS64);
        Sregs s = vcpu.getSregs()
                .withCs(code)
                .withDataSegments(data)
                .withTr(tss)
                .withGdt(new DescriptorTable(GDT, 5 * 8 - 1))
                .withCr3(PML4)
                .withCr4(Sregs.CR4_PAE | Sregs.CR4_OSFXSR | Sregs.CR4_OSXMMEXCPT)
                .withCr0(Sregs.CR0_PE | Sregs.CR0_MP | Sregs.CR0_ET | Sregs.CR0_NE | Sregs.CR0_PG)
                .withEfer(Sregs.EFER_LME | Sregs.EFER_LMA);
        vcpu.setSregs(s);
        vcpu.setRegs(Regs.initial().withRip(rip).withRsp(0x8000));
    }

    /** How long a test guest may run before the watchdog kicks it out. */
    static final Duration GUEST_TIME_LIMIT = Duration.ofSeconds(20);

    /**
     * Runs {@code vcpu} on the calling thread until the exit handler says stop. A guest that
     * runs away is kicked out after {@link #GUEST_TIME_LIMIT} (immediate_exit + signal, as
     * VcpuRunner does; a JUnit timeout cannot interrupt KVM_RUN) and the test fails with a
     * register dump.
     */
    Result runToStop(VcpuFd vcpu, Bus io, Bus mmio) {
        long self = Libc.pthreadSelf();
        Object lock = new Object();
        boolean[] done = {false};
        boolean[] fired = {false};
        Thread watchdog = Thread.ofPlatform().daemon().name("guest-watchdog").start(() -> {
            try {
                Thread.sleep(GUEST_TIME_LIMIT);
                vcpu.setImmediateExit(true);
                while (true) {
                    synchronized (lock) {
                        if (done[0]) {
                            return;
                        }
                        fired[0] = true;
                        Signals.kick(self);
                    }
                    Thread.sleep(10);
                }
            } catch (InterruptedException e) {
                // the guest stopped in time
            }
        });
        try {
            while (true) {
                VcpuExit exit = vcpu.run();
                ExitOutcome outcome = ExitHandler.handle(exit, io, mmio);
                if (outcome instanceof ExitOutcome.Stop stop) {
                    return new Result(exit, stop);
                }
                if (exit instanceof VcpuExit.Interrupted && vcpu.immediateExit()) {
                    vcpu.setImmediateExit(false);
                    throw new AssertionError("the guest did not stop within " + GUEST_TIME_LIMIT + "\n"
                            + Diagnostics.describe(vcpu, exit, memory()));
                }
            }
        } finally {
            synchronized (lock) {
                done[0] = true;
            }
            watchdog.interrupt();
        }
    }

    record Result(VcpuExit exit, ExitOutcome.Stop stop) {
    }

    @Override
    public void close() {
        if (!vcpusHandedOver) {
            vcpus.forEach(VcpuFd::close);
        }
        vm.close();
        ram.close();
        kvm.close();
    }
}
