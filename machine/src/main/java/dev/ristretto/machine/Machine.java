package dev.ristretto.machine;

import dev.ristretto.vmm.host.HostMemoryException;
import dev.ristretto.vmm.kvm.CpuidEntry;
import dev.ristretto.vmm.kvm.Kvm;
import dev.ristretto.vmm.kvm.KvmException;
import dev.ristretto.vmm.kvm.KvmUnavailableException;
import java.util.List;

/**
 * Runs a machine from a validated {@link MachineConfig} until the guest powers off, reboots
 * (or, with {@code --on-reboot restart}, until it stops rebooting), crashes, or the user quits.
 *
 * <p>Everything the user gave is checked before KVM is touched: the kernel is parsed and the
 * whole boot is planned (placement of kernel, initrd and cmdline in guest RAM), so a bad file or
 * a guest too small for its initrd fails in a fraction of a second with one sentence.
 */
public final class Machine {

    private Machine() {
    }

    /** Boots and runs the machine; returns how it ended. Setup failures throw {@link SetupException}. */
    public static MachineExit run(MachineConfig config) {
        PlatformTables tables = PlatformTables.build(config.cpus(), config.acpi());
        GuestBoot boot = GuestBoot.plan(config, tables.rsdp());
        if (config.dumpAcpi() != null) {
            tables.dump(config.dumpAcpi());
        }
        try (Kvm kvm = Kvm.open()) {
            kvm.requireCapabilities();
            int max = kvm.maxVcpus();
            if (config.cpus() > max) {
                throw SetupException.usage("cpus " + config.cpus() + " is more than this host's KVM allows (" + max
                        + "): use --cpus " + max + " or fewer");
            }
            List<CpuidEntry> cpuid = kvm.supportedCpuid();
            try (HostConsole console = HostConsole.open(config.serial())) {
                while (true) {
                    MachineExit exit;
                    try (VmInstance vm = VmInstance.boot(kvm, config, boot, tables, cpuid, console);
                         SignalStop ignored = SignalStop.install(vm, console)) {
                        exit = vm.awaitExit();
                    }
                    if (exit.reason() == MachineExit.Reason.REBOOT && config.onReboot() == OnReboot.RESTART) {
                        continue;
                    }
                    return exit;
                }
            }
        } catch (KvmUnavailableException e) {
            throw new SetupException(SetupException.Kind.HOST, e.getMessage(), e);
        } catch (HostMemoryException e) {
            throw new SetupException(SetupException.Kind.HOST, e.getMessage(), e);
        } catch (KvmException e) {
            throw new SetupException(SetupException.Kind.HOST, "KVM refused to set up the VM: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new MachineExit(MachineExit.Reason.STOPPED, 1, "interrupted", "");
        }
    }

    /**
     * SIGTERM and SIGINT end the JVM through its shutdown hooks, with exit status 128 + the signal
     * (143, 130). This hook makes that an orderly stop: every vCPU is kicked out of KVM_RUN and
     * joined, the guest's last output is flushed and the terminal leaves raw mode, before the JVM
     * halts. (In raw mode Ctrl-C reaches the guest as a byte; SIGINT comes from outside.)
     */
    private record SignalStop(Thread hook) implements AutoCloseable {
        static SignalStop install(VmInstance vm, HostConsole console) {
            Thread hook = Thread.ofPlatform().name("ristretto-signal-stop").unstarted(() -> {
                vm.requestStop(new MachineExit(MachineExit.Reason.STOPPED, 1, "stopped by a signal", ""));
                vm.close(); // backends too: a passt child and its socket directory must not outlive us
                console.close();
            });
            Runtime.getRuntime().addShutdownHook(hook);
            return new SignalStop(hook);
        }

        @Override
        public void close() {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // The JVM is already shutting down: the hook is running or has run.
            }
        }
    }
}
