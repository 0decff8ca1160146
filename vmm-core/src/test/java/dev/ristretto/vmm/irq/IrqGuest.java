package dev.ristretto.vmm.irq;

import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.device.BusDevice;
import dev.ristretto.vmm.host.HostMemory;
import dev.ristretto.vmm.kvm.Kvm;
import dev.ristretto.vmm.kvm.KvmTestSupport;
import dev.ristretto.vmm.kvm.Regs;
import dev.ristretto.vmm.kvm.Sregs;
import dev.ristretto.vmm.kvm.VcpuExit;
import dev.ristretto.vmm.kvm.VcpuFd;
import dev.ristretto.vmm.kvm.VmFd;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.memory.RamRange;
import dev.ristretto.vmm.sys.Libc;
import dev.ristretto.vmm.sys.Signals;
import dev.ristretto.vmm.vcpu.Diagnostics;
import dev.ristretto.vmm.vcpu.ExitHandler;
import dev.ristretto.vmm.vcpu.ExitOutcome;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/**
 * A one-vCPU real-mode VM for the ioeventfd / irqfd tests: 64 KiB of RAM at 0 (so 0x20000 up is
 * MMIO), optionally the in-kernel irqchip (then HLT stays in the kernel and only an interrupt
 * wakes the vCPU). Real mode because it runs in KVM's emulator on this project's PVM hosts, and
 * real-mode interrupts go through the IVT, avoiding the IDT + iretq path the emulator fails on.
 */
final class IrqGuest implements AutoCloseable {
    static final long RAM_SIZE = 64 << 10;
    static final long CODE = 0x1000;

    final Kvm kvm;
    final VmFd vm;
    final HostMemory ram;
    final VcpuFd vcpu;

    private IrqGuest(Kvm kvm, VmFd vm, HostMemory ram, VcpuFd vcpu) {
        this.kvm = kvm;
        this.vm = vm;
        this.ram = ram;
        this.vcpu = vcpu;
    }

    /** Skips the calling test when /dev/kvm is unavailable. */
    static IrqGuest create(boolean irqchip) {
        Kvm kvm = KvmTestSupport.openOrSkip();
        VmFd vm = null;
        HostMemory ram = null;
        try {
            vm = kvm.createVm();
            ram = HostMemory.mapAnonymous(List.of(new RamRange(GuestAddress.of(0), RAM_SIZE)));
            vm.setTssAddr(GuestAddress.of(0xfffb_d000L));
            vm.setIdentityMapAddr(GuestAddress.of(0xfffb_c000L));
            if (irqchip) {
                vm.createIrqchip();
            }
            vm.setUserMemoryRegion(0, GuestAddress.of(0), ram.guestMemory().regions().get(0).segment(), 0);
            VcpuFd vcpu = vm.createVcpu(0);
            Sregs s = vcpu.getSregs();
            vcpu.setSregs(s.withCs(s.cs().withBase(0).withSelector(0)));
            vcpu.setRegs(Regs.initial().withRip(CODE).withRsp(0x8000));
            return new IrqGuest(kvm, vm, ram, vcpu);
        } catch (RuntimeException e) {
            if (ram != null) {
                ram.close();
            }
            if (vm != null) {
                vm.close();
            }
            kvm.close();
            throw e;
        }
    }

    GuestMemory memory() {
        return ram.guestMemory();
    }

    void load(long gpa, String hex) {
        memory().write(GuestAddress.of(gpa), HexFormat.of().parseHex(hex.replace(" ", "")));
    }

    /**
     * Sets the LAPIC's software-enable bit (SVR bit 8, SDM vol 3 §11.9): after reset the LAPIC
     * is software-disabled and KVM drops fixed interrupts sent to it.
     */
    void enableLapic() {
        byte[] lapic = vcpu.getLapic();
        final int svr = 0xf0;
        lapic[svr + 1] |= 0x01;
        vcpu.setLapic(lapic);
    }

    /**
     * Runs the vCPU on the calling thread until an exit satisfies {@code done} or the exit
     * handler says stop, and returns that exit. A guest still running after {@code limit} is
     * kicked out (immediate_exit + signal: a JUnit timeout cannot interrupt KVM_RUN) and the test
     * fails with a register dump.
     */
    VcpuExit run(Bus io, Bus mmio, Predicate<VcpuExit> done, Duration limit) {
        long self = Libc.pthreadSelf();
        Signals.kickSignal();
        Object lock = new Object();
        boolean[] finished = {false};
        Thread watchdog = Thread.ofPlatform().daemon().name("irq-guest-watchdog").start(() -> {
            try {
                Thread.sleep(limit);
                vcpu.setImmediateExit(true);
                while (true) {
                    synchronized (lock) {
                        if (finished[0]) {
                            return;
                        }
                        Signals.kick(self);
                    }
                    Thread.sleep(10);
                }
            } catch (InterruptedException e) {
                // the guest finished in time
            }
        });
        try {
            while (true) {
                VcpuExit exit = vcpu.run();
                if (done.test(exit)) {
                    return exit;
                }
                if (exit instanceof VcpuExit.Interrupted && vcpu.immediateExit()) {
                    vcpu.setImmediateExit(false);
                    throw new AssertionError("the guest did not finish within " + limit + "\n"
                            + Diagnostics.describe(vcpu, exit, memory()));
                }
                if (ExitHandler.handle(exit, io, mmio) instanceof ExitOutcome.Stop stop) {
                    if (stop.reason() != ExitOutcome.Reason.HALT) {
                        throw new AssertionError("the guest stopped: " + stop.detail() + "\n"
                                + Diagnostics.describe(vcpu, exit, memory()));
                    }
                    return exit;
                }
            }
        } finally {
            synchronized (lock) {
                finished[0] = true;
            }
            watchdog.interrupt();
        }
    }

    /** A bus device that logs every access as "W offset hexdata" / "R offset size". */
    static final class Log implements BusDevice {
        final List<String> entries = new CopyOnWriteArrayList<>();

        @Override
        public void read(long offset, byte[] data) {
            entries.add("R " + Long.toHexString(offset) + " " + data.length);
        }

        @Override
        public void write(long offset, byte[] data) {
            entries.add("W " + Long.toHexString(offset) + " " + HexFormat.of().formatHex(data));
        }
    }

    @Override
    public void close() {
        vcpu.close();
        vm.close();
        ram.close();
        kvm.close();
    }
}
