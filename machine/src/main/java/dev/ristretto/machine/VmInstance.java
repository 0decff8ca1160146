package dev.ristretto.machine;

import dev.ristretto.firmware.Layout;
import dev.ristretto.firmware.MemoryLayout;
import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.device.PowerControl;
import dev.ristretto.vmm.host.HostMemory;
import dev.ristretto.vmm.kvm.CpuidEntry;
import dev.ristretto.vmm.kvm.Kvm;
import dev.ristretto.vmm.kvm.VcpuFd;
import dev.ristretto.vmm.kvm.VmFd;
import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.memory.GuestRegion;
import dev.ristretto.vmm.vcpu.ExitOutcome;
import dev.ristretto.vmm.vcpu.VcpuRunner;
import dev.ristretto.vmm.vcpu.CpuTemplate;
import dev.ristretto.vmm.vcpu.VcpuSetup;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * One boot of the guest: a KVM VM with its memory, devices and vCPUs. Built by {@link #boot} in
 * one linear recipe (create VM → memory → irqchip → legacy and PCI/virtio devices on buses →
 * firmware tables and kernel → vCPUs → run),
 * ended by the first terminal event: a vCPU stopping, the guest asking for reset or power-off
 * through a device, or the user quitting. {@link #close} releases everything (threads, fds,
 * mappings) whatever state the boot reached.
 */
final class VmInstance implements AutoCloseable {

    private final CompletableFuture<MachineExit> exit = new CompletableFuture<>();
    private VmFd vm;
    private HostMemory hostMemory;
    private final List<VcpuFd> vcpus = new ArrayList<>();
    private VcpuRunner runner;
    private PcDevices devices;
    private PciPlatform pci;
    private VirtioDevices virtio;
    private boolean closed;

    private VmInstance() {
    }

    /** Creates and starts the VM. On failure everything created so far is released. */
    static VmInstance boot(Kvm kvm, MachineConfig config, GuestBoot boot, PlatformTables tables,
                           List<CpuidEntry> cpuid, HostConsole console) {
        VmInstance vmi = new VmInstance();
        try {
            vmi.build(kvm, config, boot, tables, cpuid, console);
            return vmi;
        } catch (RuntimeException | Error e) {
            vmi.close();
            throw e;
        }
    }

    private void build(Kvm kvm, MachineConfig config, GuestBoot boot, PlatformTables tables,
                       List<CpuidEntry> cpuid, HostConsole console) {
        // 1. The VM and the two pages KVM on Intel needs in the MMIO hole (api.rst §4.39, §4.51).
        vm = kvm.createVm();
        vm.setTssAddr(Layout.KVM_TSS);
        vm.setIdentityMapAddr(Layout.KVM_IDENTITY_MAP);
        // 2. In-kernel PIC + IOAPIC + LAPIC, and the PIT (Linux calibrates against it).
        vm.createIrqchip();
        vm.createPit2();
        // 3. Guest RAM, split around the 32-bit MMIO hole, one memory slot per range.
        MemoryLayout layout = boot.memory();
        hostMemory = HostMemory.mapAnonymous(layout.ramRanges());
        GuestMemory memory = hostMemory.guestMemory();
        int slot = 0;
        for (GuestRegion r : memory.regions()) {
            vm.setUserMemoryRegion(slot++, r.start(), r.segment(), 0);
        }
        // 4. Devices on the buses.
        long below4g = layout.lowRamEnd().value();
        devices = PcDevices.create(vm::irqLine, console.sink(), powerControl(config), Clock.systemUTC(),
                below4g, layout.ramBytes() - below4g, tables.acpi().isPresent());
        pci = new PciPlatform(vm, memory);
        virtio = VirtioDevices.attach(config, pci, console);
        Bus.Builder ioBus = devices.register(Bus.builder("io"));
        Bus.Builder mmioBus = Bus.builder("mmio");
        pci.register(ioBus, mmioBus);
        Bus io = ioBus.build();
        Bus mmio = mmioBus.build();
        // 5. Firmware: ACPI and MP tables; kernel, initrd, cmdline, zero page, page tables, GDT.
        tables.writeTo(memory);
        boot.writer().accept(memory);
        // 6. vCPUs. The BSP starts at the kernel's entry point; APs wait for INIT/SIPI in the
        //    in-kernel LAPIC (KVM starts non-BSP vCPUs in KVM_MP_STATE_UNINITIALIZED).
        int n = config.cpus();
        for (int i = 0; i < n; i++) {
            VcpuFd vcpu = vm.createVcpu(i);
            vcpus.add(vcpu);
            VcpuSetup.configure(vcpu, cpuid, i, n, CpuTemplate.parse(config.cpuTemplate()));
        }
        boot.enter(vcpus.get(0));
        // 7. Run.
        runner = new VcpuRunner(vcpus, io, mmio, memory, this::onTermination);
        HostConsole.InputTarget input = virtio.console().<HostConsole.InputTarget>map(c -> c::enqueue)
                .orElse(devices.com1()::enqueue);
        pci.start();
        console.begin();
        console.attachInput(input, () -> finish(new MachineExit(MachineExit.Reason.STOPPED, 0,
                "stopped by Ctrl-A x", "")));
        runner.start();
    }

    private PowerControl powerControl(MachineConfig config) {
        return new PowerControl() {
            @Override
            public void requestReset(String source) {
                finish(new MachineExit(MachineExit.Reason.REBOOT, 0, "the guest rebooted (" + source + ")", ""));
            }

            @Override
            public void requestPowerOff(String source) {
                finish(new MachineExit(MachineExit.Reason.POWER_OFF, 0, "the guest powered off (" + source + ")", ""));
            }
        };
    }

    private void onTermination(VcpuRunner.Termination t) {
        ExitOutcome.Stop stop = t.stop();
        String detail = t.diagnostics();
        MachineExit e = switch (stop.reason()) {
            case POWER_OFF -> new MachineExit(MachineExit.Reason.POWER_OFF, 0,
                    "the guest powered off (KVM system event)", "");
            case RESET -> new MachineExit(MachineExit.Reason.REBOOT, 0, "the guest rebooted (KVM system event)", "");
            case SHUTDOWN -> new MachineExit(MachineExit.Reason.TRIPLE_FAULT, 1,
                    "vCPU " + t.vcpu() + ": the guest triple-faulted (KVM_EXIT_SHUTDOWN)", detail);
            default -> new MachineExit(MachineExit.Reason.VCPU_FAILURE, 1,
                    "vCPU " + t.vcpu() + ": " + stop.detail(), detail);
        };
        if (t.error() != null) {
            System.getLogger(VmInstance.class.getName()).log(System.Logger.Level.ERROR, "vCPU " + t.vcpu() + " failed",
                    t.error());
        }
        finish(e);
    }

    /** Records the first terminal event and kicks every vCPU out; later events are ignored. */
    private void finish(MachineExit e) {
        if (exit.complete(e) && runner != null) {
            runner.stop();
        }
    }

    /** Blocks until the machine ends; returns how. */
    MachineExit awaitExit() throws InterruptedException {
        try {
            return exit.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Asks the machine to stop (from any thread); {@link #awaitExit} then returns {@code e}. */
    void requestStop(MachineExit e) {
        finish(e);
    }

    PcDevices devices() {
        return devices;
    }

    /**
     * Releases everything (threads, fds, backends, mappings). Idempotent and safe from the signal
     * hook while the main thread is closing too: the second caller waits for the first.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (runner != null) {
            runner.close(); // stops, joins every vCPU thread, closes the vCPU fds
        } else {
            vcpus.forEach(VcpuFd::close);
        }
        if (pci != null) {
            pci.close(); // device workers stop before their backends close
        }
        if (virtio != null) {
            virtio.close();
        }
        if (vm != null) {
            vm.close();
        }
        if (hostMemory != null) {
            hostMemory.close();
        }
    }
}
