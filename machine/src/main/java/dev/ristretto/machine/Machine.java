package dev.ristretto.machine;

import dev.ristretto.vmm.host.HostMemoryException;
import dev.ristretto.vmm.kvm.CpuidEntry;
import dev.ristretto.vmm.kvm.Kvm;
import dev.ristretto.vmm.kvm.KvmException;
import dev.ristretto.vmm.kvm.KvmUnavailableException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import sun.misc.Signal;
import sun.misc.SignalHandler;

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
            try (HostConsole console = HostConsole.open(config.serial());
                 SignalStop signals = SignalStop.install()) {
                while (true) {
                    MachineExit exit;
                    try (VmInstance vm = VmInstance.boot(kvm, config, boot, tables, cpuid, console)) {
                        Optional<MachineExit> early = signals.watch(vm);
                        exit = early.isPresent() ? early.get() : vm.awaitExit();
                        signals.watch(null);
                    }
                    if (exit.reason() == MachineExit.Reason.REBOOT && config.onReboot() == OnReboot.RESTART
                            && signals.received().isEmpty()) {
                        continue;
                    }
                    return signals.received().orElse(exit);
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
     * SIGTERM and SIGINT stop the machine in order and make Ristretto exit with 128 + the signal's
     * number (143, 130), as a shell reports a process the signal killed: every vCPU is kicked out
     * of KVM_RUN and joined, the devices and backends are closed (a passt child and its socket
     * directory must not outlive us), the guest's last output is flushed and the terminal leaves
     * raw mode — all on the main thread's normal path, which also prints which signal it was.
     * (In raw mode Ctrl-C reaches the guest as a byte; SIGINT comes from outside.) A second
     * signal while that stop is under way ends the process at once, for a stop that hangs.
     *
     * <p>Handlers replace the JVM's (which would run shutdown hooks and halt while the main
     * thread is still closing) for as long as the machine runs, and are restored afterwards.
     */
    static final class SignalStop implements AutoCloseable {
        private static final List<String> SIGNALS = List.of("TERM", "INT");

        private final Map<Signal, SignalHandler> previous = new HashMap<>();
        private final AtomicReference<MachineExit> received = new AtomicReference<>();
        private VmInstance current; // guarded by this

        private SignalStop() {
        }

        static SignalStop install() {
            SignalStop stop = new SignalStop();
            for (String name : SIGNALS) {
                Signal signal = new Signal(name);
                try {
                    stop.previous.put(signal, Signal.handle(signal, stop::onSignal));
                } catch (IllegalArgumentException e) {
                    // The JVM keeps this signal (-Xrs): its default, a halt through the shutdown hooks, stays.
                }
            }
            return stop;
        }

        private void onSignal(Signal signal) {
            int status = 128 + signal.getNumber();
            MachineExit exit = new MachineExit(MachineExit.Reason.STOPPED, status, "stopped by SIG" + signal.getName(), "");
            if (!received.compareAndSet(null, exit)) {
                Runtime.getRuntime().halt(status);
            }
            VmInstance vm;
            synchronized (this) {
                vm = current;
            }
            if (vm != null) {
                vm.requestStop(exit);
            }
        }

        /**
         * Makes {@code vm} the machine a signal stops ({@code null}: none). Returns the stop if a
         * signal came before, so the caller does not wait for a machine no one will stop.
         */
        Optional<MachineExit> watch(VmInstance vm) {
            synchronized (this) {
                current = vm;
            }
            return vm == null ? Optional.empty() : received();
        }

        /** The stop a signal asked for, if one came. */
        Optional<MachineExit> received() {
            return Optional.ofNullable(received.get());
        }

        @Override
        public void close() {
            previous.forEach(Signal::handle);
        }
    }
}
