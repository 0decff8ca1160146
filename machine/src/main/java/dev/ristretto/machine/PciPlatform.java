package dev.ristretto.machine;

import dev.ristretto.devices.pci.MsiMessage;
import dev.ristretto.devices.pci.MsiSink;
import dev.ristretto.devices.pci.PciAddress;
import dev.ristretto.devices.pci.PciBar;
import dev.ristretto.devices.pci.PciBarAllocator;
import dev.ristretto.devices.pci.PciHostBridge;
import dev.ristretto.devices.pci.PciRoot;
import dev.ristretto.devices.virtio.VirtioDevice;
import dev.ristretto.devices.virtio.VirtioPciDevice;
import dev.ristretto.firmware.Layout;
import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.device.IrqLine;
import dev.ristretto.vmm.host.EventFd;
import dev.ristretto.vmm.host.IoEventWorker;
import dev.ristretto.vmm.irq.MsiRoutes;
import dev.ristretto.vmm.kvm.IoEventSpace;
import dev.ristretto.vmm.kvm.VmFd;
import dev.ristretto.vmm.memory.GuestMemory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The machine's PCI side: a host bridge at 00:00.0 behind configuration mechanism #1 (ports
 * 0xCF8/0xCFC, PCI Local Bus 3.0 §3.2.2.3.2) and ECAM (described by MCFG), the 32-bit memory
 * window BARs are placed in, and virtio devices wired the way KVM makes fast:
 * <ul>
 *   <li>queue notifications (the driver's write to the notify structure, VIRTIO 1.2 §4.1.4.4)
 *       are KVM ioeventfds, so they never leave the kernel on the vCPU thread; one worker thread
 *       per device ("virtio-NAME") runs the device's queue processing;</li>
 *   <li>MSI-X vectors are irqfds bound to MSI routes (KVM_SET_GSI_ROUTING), rewritten whenever the
 *       guest reprograms a table entry; INTx (INTA#, level) is the fallback while MSI-X is off,
 *       routed as the DSDT's _PRT says.</li>
 * </ul>
 * Device work never runs on a vCPU thread unless the guest moved a BAR away from where the
 * ioeventfd listens (then the notify write exits to userspace and is handled there, correctly).
 */
final class PciPlatform implements AutoCloseable {

    /** The GSI of INTx pin {@code pin} (0 = INTA#) of {@code slot}: the _PRT's swizzle. */
    static int intxGsi(int slot, int pin) {
        return Layout.PCI_INTX_GSI_BASE + (slot + pin) % Layout.PCI_INTX_GSI_COUNT;
    }

    private final VmFd vm;
    private final GuestMemory memory;
    private final PciRoot root = new PciRoot(new PciHostBridge());
    private final PciBarAllocator bars = new PciBarAllocator(
            new PciBarAllocator.Window("pci-mmio32", Layout.PCI_MMIO32.value(), Layout.PCI_MMIO32_SIZE),
            null,
            new PciBarAllocator.Window("pci-io", Layout.PCI_IO_WINDOW, Layout.PCI_IO_WINDOW_SIZE));
    private final MsiRoutes routes;
    private final List<IoEventWorker> workers = new ArrayList<>();
    private final List<EventFd> eventFds = new ArrayList<>();
    private final List<VirtioPciDevice> devices = new ArrayList<>();

    PciPlatform(VmFd vm, GuestMemory memory) {
        this.vm = vm;
        this.memory = memory;
        this.routes = MsiRoutes.create(vm);
    }

    /** Plugs {@code device} into the next free slot; returns the PCI function. */
    VirtioPciDevice addVirtio(String name, VirtioDevice device) {
        DeferredIrq intx = new DeferredIrq();
        VirtioPciDevice pci = new VirtioPciDevice(device, memory, new RoutedMsi(routes), intx);
        PciAddress address = root.add(pci);
        intx.target = vm.irqLine(intxGsi(address.device(), 0));
        PciBar bar = pci.bars().get(0);
        long base = bars.allocate(name, bar);
        pci.setBarAddress(bar.index(), base);

        IoEventWorker worker = new IoEventWorker("virtio-" + name);
        workers.add(worker);
        for (int q = 0; q < pci.queueCount(); q++) {
            EventFd doorbell = EventFd.createNonBlocking();
            eventFds.add(doorbell);
            // Linux writes the queue index as 16 bits (iowrite16, VIRTIO 1.2 §4.1.5.2).
            vm.registerIoEvent(doorbell, IoEventSpace.MMIO, base + VirtioPciDevice.notifyOffset(q), 2,
                    OptionalLong.empty());
            int queue = q;
            worker.register(doorbell, () -> pci.notifyQueue(queue));
        }
        devices.add(pci);
        return pci;
    }

    /** Adds the configuration ports, ECAM and the BAR windows to the buses being built. */
    void register(Bus.Builder io, Bus.Builder mmio) {
        io.insert(PciRoot.CONFIG_ADDRESS_PORT, 4, "pci-config-address", root.configAddressPort());
        io.insert(PciRoot.CONFIG_DATA_PORT, 4, "pci-config-data", root.configDataPort());
        io.insert(Layout.PCI_IO_WINDOW, Layout.PCI_IO_WINDOW_SIZE, "pci-io", root.ioWindow(Layout.PCI_IO_WINDOW));
        mmio.insert(Layout.PCI_ECAM.value(), Layout.PCI_ECAM_BUSES * PciRoot.ECAM_BUS_SIZE, "pci-ecam",
                root.ecam(Layout.PCI_ECAM_BUSES));
        mmio.insert(Layout.PCI_MMIO32.value(), Layout.PCI_MMIO32_SIZE, "pci-mmio32",
                root.memoryWindow(Layout.PCI_MMIO32.value()));
    }

    /** Starts the device worker threads; before the vCPUs run. */
    void start() {
        workers.forEach(IoEventWorker::start);
    }

    List<VirtioPciDevice> devices() {
        return List.copyOf(devices);
    }

    /** Stops the workers (after the vCPUs stopped), then releases eventfds and routes. */
    @Override
    public void close() {
        workers.forEach(IoEventWorker::close);
        eventFds.forEach(EventFd::close);
        routes.close();
    }

    /** INTx before the slot is known: the PCI function is built before it is plugged in. */
    private static final class DeferredIrq implements IrqLine {
        volatile IrqLine target = IrqLine.NONE;

        @Override
        public void set(boolean asserted) {
            target.set(asserted);
        }
    }

    /**
     * MSI-X through irqfd: each vector gets its own GSI on first use, routed to the message the
     * guest programmed, and re-routed when the guest rewrites the table entry.
     */
    private static final class RoutedMsi implements MsiSink {
        private final MsiRoutes routes;
        private final Map<Integer, MsiRoutes.Interrupt> vectors = new ConcurrentHashMap<>();

        RoutedMsi(MsiRoutes routes) {
            this.routes = routes;
        }

        private MsiRoutes.Interrupt route(int vector, MsiMessage m) {
            return vectors.computeIfAbsent(vector, v -> {
                MsiRoutes.Interrupt i = routes.allocate();
                i.update(m.address(), m.data());
                return i;
            });
        }

        @Override
        public void signal(int vector, MsiMessage message) {
            route(vector, message).trigger();
        }

        @Override
        public void messageChanged(int vector, MsiMessage message) {
            route(vector, message).update(message.address(), message.data());
        }
    }
}
