package dev.ristretto.vmm.irq;

import dev.ristretto.vmm.host.EventFd;
import dev.ristretto.vmm.kvm.Capability;
import dev.ristretto.vmm.kvm.GsiRoute;
import dev.ristretto.vmm.kvm.KvmUnavailableException;
import dev.ristretto.vmm.kvm.VmFd;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The owner of a VM's GSI routing table, and the MSI interrupts routed through it.
 *
 * <p>Each {@link Interrupt} is a GSI of its own (from 24 up, above the IOAPIC's pins) with an
 * irqfd bound to it: {@link Interrupt#trigger()} writes the eventfd and KVM delivers the MSI
 * message the GSI's route carries straight to the target LAPIC, from the calling thread, with no
 * vCPU exit and no VMM thread in between (api.rst §4.75 KVM_IRQFD). When the guest rewrites the
 * message (an MSI-X table entry), {@link Interrupt#update} rewrites the route; the irqfd follows.
 *
 * <p>KVM_SET_GSI_ROUTING replaces the whole table (api.rst §4.52), so every call sends the
 * irqchip routes ({@link #irqchipRoutes()}) along with the MSI routes; otherwise the first MSI
 * route would cut the PIC and IOAPIC off from KVM_IRQ_LINE and the in-kernel PIT. Those irqchip
 * routes are the PC's wiring, not KVM's default table: {@link #create} applies them at once, so
 * the PIT reaches the IOAPIC pin our MADT and MP table name for it. Hence one owner per VM:
 * create one {@code MsiRoutes} right after KVM_CREATE_IRQCHIP and route every GSI change through it.
 *
 * <p>Thread-safe: allocation, update and release are serialised; {@link Interrupt#trigger()}
 * takes no table lock and may be called from any thread (device workers) concurrently with them.
 */
public final class MsiRoutes implements AutoCloseable {
    /** GSIs 0-23 are the irqchip pins (KVM's IOAPIC has 24); MSI routes take the numbers above. */
    public static final int FIRST_MSI_GSI = 24;

    /** The VM ioctls this class needs: {@link VmFd} in production, a recorder in unit tests. */
    interface Backend {
        void setGsiRouting(List<GsiRoute> routes);

        void registerIrqFd(EventFd eventFd, int gsi);

        void unregisterIrqFd(EventFd eventFd, int gsi);
    }

    private static final List<GsiRoute> IRQCHIP_ROUTES = buildIrqchipRoutes();

    private final Backend backend;
    private final int maxRoutes;
    /** MSI routes by GSI, sorted; an allocated interrupt whose message was never set has none. */
    private final TreeMap<Integer, GsiRoute.Msi> msiRoutes = new TreeMap<>();
    private final TreeMap<Integer, Interrupt> allocated = new TreeMap<>();
    private boolean closed;

    MsiRoutes(Backend backend, int maxRoutes) {
        this.backend = Objects.requireNonNull(backend);
        if (maxRoutes <= FIRST_MSI_GSI || maxRoutes <= IRQCHIP_ROUTES.size()) {
            throw new IllegalArgumentException("a routing table of " + maxRoutes + " entries has no room for MSI routes "
                    + "after the " + IRQCHIP_ROUTES.size() + " irqchip routes");
        }
        this.maxRoutes = maxRoutes;
    }

    /**
     * The routing table of {@code vm}, which must already have its in-kernel irqchip. The route
     * limit is what KVM_CHECK_EXTENSION(KVM_CAP_IRQ_ROUTING) answers (KVM_MAX_IRQ_ROUTES, 4096 on
     * x86): KVM refuses both a longer table and a GSI at or above it (virt/kvm/irqchip.c).
     */
    public static MsiRoutes create(VmFd vm) {
        int max = vm.checkExtension(Capability.IRQ_ROUTING);
        if (max <= 0 || vm.checkExtension(Capability.IRQFD) <= 0) {
            throw new KvmUnavailableException("this host's KVM lacks KVM_CAP_IRQ_ROUTING or KVM_CAP_IRQFD, which "
                    + "virtio interrupts need; update the host kernel (Linux 4.11 or newer provides both)");
        }
        MsiRoutes routes = new MsiRoutes(new Backend() {
            @Override
            public void setGsiRouting(List<GsiRoute> routes) {
                vm.setGsiRouting(routes);
            }

            @Override
            public void registerIrqFd(EventFd eventFd, int gsi) {
                vm.registerIrqFd(eventFd, gsi);
            }

            @Override
            public void unregisterIrqFd(EventFd eventFd, int gsi) {
                vm.unregisterIrqFd(eventFd, gsi);
            }
        }, max);
        routes.apply();
        return routes;
    }

    /** Sends the table as it stands to KVM; {@link #create} calls it once to install the PC wiring. */
    synchronized void apply() {
        backend.setGsiRouting(table(msiRoutes));
    }

    /**
     * The routes from GSI 0-23 to the in-kernel PIC and IOAPIC pins: a PC's wiring, as QEMU sets it
     * up for its in-kernel irqchip (kvm_pc_setup_irq_routing). GSI n goes to IOAPIC pin n and, for
     * n &lt; 16, to pin n % 8 of the master (n &lt; 8) or slave PIC — except the PIT: KVM's in-kernel
     * PIT raises GSI 0, and on a PC the 8254 drives PIC pin 0 but IOAPIC pin 2, which is what our
     * MADT's interrupt source override (ACPI 6.5 §5.2.12.5) and MP table I/O interrupt entry (MP
     * 1.4 §4.3.4) tell the guest. KVM_CREATE_IRQCHIP's own table (kvm_setup_default_irq_routing)
     * sends GSI 0 to IOAPIC pin 0 instead, so a kernel that programs pin 2 for its timer, as Linux
     * without ACPI does (check_timer), would never see a tick there. GSI 2, the PIC cascade, has no
     * route: nothing raises it. The PIT's ack notifier still fires, since KVM maps the acked pin
     * back to its GSI through this table. 38 entries, sorted by GSI, IOAPIC before PIC.
     */
    public static List<GsiRoute> irqchipRoutes() {
        return IRQCHIP_ROUTES;
    }

    /** GSI 0 (the 8254) appears on IOAPIC pin 2, like ISA IRQ0 on every PC chipset. */
    static final int PIT_IOAPIC_PIN = 2;
    /** ISA IRQ2: the slave PIC's cascade into the master, which no device raises. */
    static final int CASCADE_GSI = 2;

    private static List<GsiRoute> buildIrqchipRoutes() {
        List<GsiRoute> routes = new ArrayList<>();
        for (int gsi = 0; gsi < GsiRoute.Irqchip.IOAPIC_PINS; gsi++) {
            if (gsi == CASCADE_GSI) {
                continue;
            }
            routes.add(new GsiRoute.Irqchip(gsi, GsiRoute.Irqchip.IOAPIC, gsi == 0 ? PIT_IOAPIC_PIN : gsi));
            if (gsi < 2 * GsiRoute.Irqchip.PIC_PINS) {
                int chip = gsi < GsiRoute.Irqchip.PIC_PINS ? GsiRoute.Irqchip.PIC_MASTER : GsiRoute.Irqchip.PIC_SLAVE;
                routes.add(new GsiRoute.Irqchip(gsi, chip, gsi % GsiRoute.Irqchip.PIC_PINS));
            }
        }
        return List.copyOf(routes);
    }

    /** The table as last applied (or as it will be): the default routes, then the MSI routes by GSI. */
    public synchronized List<GsiRoute> routes() {
        return table(msiRoutes);
    }

    private static List<GsiRoute> table(TreeMap<Integer, GsiRoute.Msi> msi) {
        List<GsiRoute> t = new ArrayList<>(IRQCHIP_ROUTES.size() + msi.size());
        t.addAll(IRQCHIP_ROUTES);
        t.addAll(msi.values());
        return List.copyOf(t);
    }

    /** The most routes (and one past the highest GSI) this VM's KVM accepts. */
    public int maxRoutes() {
        return maxRoutes;
    }

    /**
     * A new interrupt: the lowest free GSI from {@link #FIRST_MSI_GSI}, with an irqfd bound to it.
     * It has no route yet — KVM drops a trigger until the first {@link Interrupt#update} gives it
     * the guest's message (as it would an MSI-X vector the guest has not programmed).
     */
    public synchronized Interrupt allocate() {
        if (closed) {
            throw new IllegalStateException("the MSI routing table is closed");
        }
        // Each interrupt may add one route: the table must stay within KVM's limit, and so must the GSI.
        if (IRQCHIP_ROUTES.size() + allocated.size() >= maxRoutes) {
            throw new IllegalStateException("all " + (maxRoutes - IRQCHIP_ROUTES.size()) + " MSI routes KVM allows are in "
                    + "use; configure fewer devices or queues");
        }
        int gsi = FIRST_MSI_GSI;
        for (int used : allocated.keySet()) { // sorted: the first gap is the lowest free GSI
            if (used != gsi) {
                break;
            }
            gsi++;
        }
        if (gsi >= maxRoutes) {
            throw new IllegalStateException("no GSI below KVM's limit of " + maxRoutes + " is free");
        }
        EventFd eventFd = EventFd.create();
        try {
            backend.registerIrqFd(eventFd, gsi);
        } catch (RuntimeException e) {
            eventFd.close();
            throw e;
        }
        Interrupt irq = new Interrupt(gsi, eventFd);
        allocated.put(gsi, irq);
        return irq;
    }

    private synchronized void update(Interrupt irq, long address, int data) {
        if (allocated.get(irq.gsi) != irq) {
            throw new IllegalStateException("MSI interrupt on GSI " + irq.gsi + " was released");
        }
        GsiRoute.Msi route = new GsiRoute.Msi(irq.gsi, address, data);
        if (route.equals(msiRoutes.get(irq.gsi))) {
            return; // unchanged: spare KVM the table rebuild (and its RCU grace period)
        }
        GsiRoute.Msi previous = msiRoutes.put(irq.gsi, route);
        try {
            backend.setGsiRouting(table(msiRoutes));
        } catch (RuntimeException e) {
            // KVM kept the old table (KVM_SET_GSI_ROUTING is all or nothing): keep ours in step.
            if (previous == null) {
                msiRoutes.remove(irq.gsi);
            } else {
                msiRoutes.put(irq.gsi, previous);
            }
            throw e;
        }
    }

    /**
     * Unbinds the irqfd, removes the route and closes the eventfd; the GSI becomes free.
     * Idempotent. A concurrent {@link Interrupt#trigger()} either completes before or fails with
     * IllegalStateException — it never writes to a closed (and perhaps reused) fd number.
     */
    public synchronized void release(Interrupt irq) {
        if (irq.owner() != this) {
            throw new IllegalArgumentException("MSI interrupt on GSI " + irq.gsi + " belongs to another routing table");
        }
        if (allocated.get(irq.gsi) != irq) {
            return;
        }
        // irqfd first: once it is gone nothing can inject through the route we are removing.
        backend.unregisterIrqFd(irq.eventFd, irq.gsi);
        allocated.remove(irq.gsi);
        if (msiRoutes.remove(irq.gsi) != null) {
            backend.setGsiRouting(table(msiRoutes));
        }
        irq.close();
    }

    /** Releases every interrupt; afterwards {@link #allocate()} fails. Idempotent. */
    @Override
    public synchronized void close() {
        closed = true;
        for (Interrupt irq : List.copyOf(allocated.values())) {
            release(irq);
        }
    }

    /** One MSI interrupt: a GSI, its irqfd, and (after the first {@link #update}) its route. */
    public final class Interrupt {
        private final int gsi;
        private final EventFd eventFd;
        /** Read side held while writing the eventfd, write side while closing it. */
        private final ReentrantReadWriteLock fdLock = new ReentrantReadWriteLock();
        private boolean released; // guarded by fdLock

        private Interrupt(int gsi, EventFd eventFd) {
            this.gsi = gsi;
            this.eventFd = eventFd;
        }

        public int gsi() {
            return gsi;
        }

        /** The irqfd; package-private so tests can watch what trigger() writes. */
        EventFd eventFd() {
            return eventFd;
        }

        private MsiRoutes owner() {
            return MsiRoutes.this;
        }

        /**
         * Raises the interrupt: writes 1 to the irqfd, and KVM sends the route's message. Cheap
         * (one write(2)); any thread. Throws IllegalStateException after {@link MsiRoutes#release}.
         */
        public void trigger() {
            fdLock.readLock().lock();
            try {
                if (released) {
                    throw new IllegalStateException("MSI interrupt on GSI " + gsi + " was released");
                }
                eventFd.write(1);
            } finally {
                fdLock.readLock().unlock();
            }
        }

        /**
         * Points the interrupt at a new message (the guest rewrote the MSI-X table entry):
         * rewrites this GSI's route and re-applies the table. No ioctl when nothing changed.
         */
        public void update(long address, int data) {
            MsiRoutes.this.update(this, address, data);
        }

        private void close() {
            fdLock.writeLock().lock();
            try {
                released = true;
                eventFd.close();
            } finally {
                fdLock.writeLock().unlock();
            }
        }

        @Override
        public String toString() {
            return "MsiRoutes.Interrupt[gsi=" + gsi + ", " + eventFd + "]";
        }
    }
}
