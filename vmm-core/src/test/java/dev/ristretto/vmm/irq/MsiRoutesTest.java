package dev.ristretto.vmm.irq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.host.EventFd;
import dev.ristretto.vmm.kvm.GsiRoute;
import dev.ristretto.vmm.kvm.GsiRoute.Irqchip;
import dev.ristretto.vmm.kvm.KvmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The routing table MsiRoutes keeps and the ioctls it issues, against a recording backend (no KVM). */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class MsiRoutesTest {

    /** Records each call; fails setGsiRouting on demand, and checks the rules KVM enforces. */
    static final class Recorder implements MsiRoutes.Backend {
        final List<String> calls = new CopyOnWriteArrayList<>();
        final AtomicReference<List<GsiRoute>> table = new AtomicReference<>(MsiRoutes.irqchipRoutes());
        volatile boolean failNextRouting;

        @Override
        public void setGsiRouting(List<GsiRoute> routes) {
            if (failNextRouting) {
                failNextRouting = false;
                throw new KvmException("KVM_SET_GSI_ROUTING", 22, "injected failure", null);
            }
            // virt/kvm/irqchip.c setup_routing_entry: an MSI route is its GSI's only route, and
            // a GSI reaches each irqchip at most once.
            Set<String> seen = new HashSet<>();
            for (GsiRoute r : routes) {
                String key = r.gsi() + (r instanceof Irqchip c ? "/chip" + c.chip() : "/msi");
                assertTrue(seen.add(key), "duplicate route " + key);
            }
            for (GsiRoute r : routes) {
                if (r instanceof GsiRoute.Msi) {
                    assertEquals(1, routes.stream().filter(o -> o.gsi() == r.gsi()).count(), "MSI GSI shared: " + r);
                }
            }
            table.set(List.copyOf(routes));
            calls.add("routing " + routes.size());
        }

        @Override
        public void registerIrqFd(EventFd eventFd, int gsi) {
            calls.add("irqfd+ " + gsi);
        }

        @Override
        public void unregisterIrqFd(EventFd eventFd, int gsi) {
            calls.add("irqfd- " + gsi);
        }
    }

    @Test
    void irqchipRoutesAreThePcWiringWithThePitOnIoapicPin2() {
        List<GsiRoute> d = MsiRoutes.irqchipRoutes();
        // 15 ISA GSIs (no cascade) to IOAPIC + PIC, 8 PCI GSIs to the IOAPIC only.
        assertEquals(15 * 2 + 8, d.size());
        List<GsiRoute> expected = new ArrayList<>();
        for (int gsi = 0; gsi < 24; gsi++) {
            if (gsi == 2) {
                continue;
            }
            expected.add(new Irqchip(gsi, Irqchip.IOAPIC, gsi == 0 ? 2 : gsi));
            if (gsi < 8) {
                expected.add(new Irqchip(gsi, Irqchip.PIC_MASTER, gsi));
            } else if (gsi < 16) {
                expected.add(new Irqchip(gsi, Irqchip.PIC_SLAVE, gsi - 8));
            }
        }
        assertEquals(expected, d);
        // The PIT's GSI 0 reaches IOAPIC pin 2 (where the MADT override and the MP table put
        // IRQ0) and PIC master pin 0; nothing reaches IOAPIC pin 0, and GSI 2 has no route at
        // all; GSI 14 (IDE) is slave pin 6.
        assertTrue(d.contains(new Irqchip(0, Irqchip.IOAPIC, 2)));
        assertTrue(d.contains(new Irqchip(0, Irqchip.PIC_MASTER, 0)));
        assertFalse(d.stream().anyMatch(r -> r instanceof Irqchip i && i.chip() == Irqchip.IOAPIC && i.pin() == 0));
        assertFalse(d.stream().anyMatch(r -> r.gsi() == 2));
        assertTrue(d.contains(new Irqchip(14, Irqchip.PIC_SLAVE, 6)));
        assertEquals(1, d.stream().filter(r -> r.gsi() == 16).count());
        assertEquals(d.stream().sorted(Comparator.comparingInt(GsiRoute::gsi)).toList(), d, "sorted by GSI");
        // Each IOAPIC pin has at most one GSI: KVM maps an acked pin back to one GSI (the PIT's ack notifier).
        assertEquals(d.stream().filter(r -> r instanceof Irqchip i && i.chip() == Irqchip.IOAPIC).count(),
                d.stream().filter(r -> r instanceof Irqchip i && i.chip() == Irqchip.IOAPIC)
                        .map(r -> ((Irqchip) r).pin()).distinct().count());
    }

    @Test
    void applySendsTheIrqchipRoutesBeforeAnyMsiExists() {
        Recorder kvm = new Recorder();
        kvm.table.set(List.of()); // as if KVM still had its own default table
        try (MsiRoutes routes = new MsiRoutes(kvm, 4096)) {
            routes.apply();
            assertEquals(List.of("routing 38"), kvm.calls);
            assertEquals(MsiRoutes.irqchipRoutes(), kvm.table.get());
        }
    }

    @Test
    void allocateBindsAnIrqfdAndUpdateInstallsTheRouteAlongsideTheIrqchipRoutes() {
        Recorder kvm = new Recorder();
        try (MsiRoutes routes = new MsiRoutes(kvm, 4096)) {
            MsiRoutes.Interrupt a = routes.allocate();
            MsiRoutes.Interrupt b = routes.allocate();
            assertEquals(24, a.gsi());
            assertEquals(25, b.gsi());
            assertEquals(List.of("irqfd+ 24", "irqfd+ 25"), kvm.calls);
            // No message yet: no route, nothing sent to KVM beyond the irqfds.
            assertEquals(MsiRoutes.irqchipRoutes(), routes.routes());

            b.update(0xfee0_0000L, 0x41);
            a.update(0xfee0_1000L, 0x4022);
            List<GsiRoute> expected = new ArrayList<>(MsiRoutes.irqchipRoutes());
            expected.add(new GsiRoute.Msi(24, 0xfee0_1000L, 0x4022));
            expected.add(new GsiRoute.Msi(25, 0xfee0_0000L, 0x41));
            assertEquals(expected, routes.routes(), "irqchip routes first, then MSI routes sorted by GSI");
            assertEquals(expected, kvm.table.get(), "the whole table goes to KVM every time");
            assertEquals(40, kvm.table.get().size());

            int before = kvm.calls.size();
            a.update(0xfee0_1000L, 0x4022);
            assertEquals(before, kvm.calls.size(), "an unchanged message costs no ioctl");

            // A 64-bit address is kept whole (address_hi).
            a.update(0x1_fee0_0000L, 0x30);
            assertTrue(kvm.table.get().contains(new GsiRoute.Msi(24, 0x1_fee0_0000L, 0x30)));
        }
    }

    @Test
    void triggerWritesOneToTheIrqfd() {
        try (MsiRoutes routes = new MsiRoutes(new Recorder(), 4096)) {
            MsiRoutes.Interrupt a = routes.allocate();
            a.trigger();
            a.trigger();
            // The irqfd is a blocking eventfd (KVM is its reader): two triggers add up to 2.
            assertEquals(2, a.eventFd().read());
        }
    }

    @Test
    void releaseUnbindsFirstThenDropsTheRouteAndTheGsiIsReused() {
        Recorder kvm = new Recorder();
        try (MsiRoutes routes = new MsiRoutes(kvm, 4096)) {
            MsiRoutes.Interrupt a = routes.allocate();
            MsiRoutes.Interrupt b = routes.allocate();
            MsiRoutes.Interrupt c = routes.allocate();
            a.update(0xfee0_0000L, 0x40);
            b.update(0xfee0_0000L, 0x41);
            kvm.calls.clear();
            routes.release(b);
            assertEquals(List.of("irqfd- 25", "routing 39"), kvm.calls);
            assertTrue(b.eventFd().isClosed());
            assertThrows(IllegalStateException.class, b::trigger);
            assertThrows(IllegalStateException.class, () -> b.update(0xfee0_0000L, 0x42));
            routes.release(b); // idempotent
            kvm.calls.clear();
            routes.release(c); // never updated: no route to drop, no table rewrite
            assertEquals(List.of("irqfd- 26"), kvm.calls);
            assertEquals(25, routes.allocate().gsi(), "the lowest free GSI is reused");
            assertEquals(26, routes.allocate().gsi());
            assertEquals(27, routes.allocate().gsi());
            a.trigger(); // the survivor still works
        }
    }

    @Test
    void aRefusedTableLeavesTheOldRouteInPlace() {
        Recorder kvm = new Recorder();
        try (MsiRoutes routes = new MsiRoutes(kvm, 4096)) {
            MsiRoutes.Interrupt a = routes.allocate();
            a.update(0xfee0_0000L, 0x40);
            List<GsiRoute> before = routes.routes();
            kvm.failNextRouting = true;
            assertThrows(KvmException.class, () -> a.update(0xfee0_0000L, 0x50));
            assertEquals(before, routes.routes());
            assertEquals(before, kvm.table.get());
            a.update(0xfee0_0000L, 0x50); // and a retry goes through
            assertTrue(routes.routes().contains(new GsiRoute.Msi(24, 0xfee0_0000L, 0x50)));
        }
    }

    @Test
    void theRouteLimitBoundsBothTheTableAndTheGsis() {
        // KVM refuses more than maxRoutes entries and any GSI >= maxRoutes.
        Recorder kvm = new Recorder();
        try (MsiRoutes routes = new MsiRoutes(kvm, 42)) {
            List<MsiRoutes.Interrupt> irqs = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                irqs.add(routes.allocate()); // 38 irqchip routes + 4 MSI = 42
            }
            IllegalStateException e = assertThrows(IllegalStateException.class, routes::allocate);
            assertTrue(e.getMessage().contains("fewer devices or queues"), e.getMessage());
            routes.release(irqs.get(1));
            assertEquals(25, routes.allocate().gsi());
        }
        assertThrows(IllegalArgumentException.class, () -> new MsiRoutes(kvm, 38));
    }

    @Test
    void closeReleasesEverythingAndRefusesNewInterrupts() {
        Recorder kvm = new Recorder();
        MsiRoutes routes = new MsiRoutes(kvm, 4096);
        MsiRoutes.Interrupt a = routes.allocate();
        MsiRoutes.Interrupt b = routes.allocate();
        a.update(0xfee0_0000L, 0x40);
        routes.close();
        assertTrue(a.eventFd().isClosed());
        assertTrue(b.eventFd().isClosed());
        assertEquals(MsiRoutes.irqchipRoutes(), kvm.table.get());
        assertThrows(IllegalStateException.class, routes::allocate);
        routes.close();
        MsiRoutes other = new MsiRoutes(kvm, 4096);
        assertThrows(IllegalArgumentException.class, () -> other.release(a));
        other.close();
    }

    /**
     * Many threads allocating, updating, triggering and releasing at once: the final table holds
     * exactly the surviving routes, each GSI was handed out once at a time, and no trigger ever
     * wrote to a closed fd (it either succeeded or was refused).
     */
    @Test
    void concurrentUseKeepsTheTableConsistent() throws Exception {
        Recorder kvm = new Recorder();
        try (MsiRoutes routes = new MsiRoutes(kvm, 4096)) {
            List<MsiRoutes.Interrupt> kept = Collections.synchronizedList(new ArrayList<>());
            List<Throwable> errors = new CopyOnWriteArrayList<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                int id = t;
                threads.add(Thread.ofPlatform().name("msi-test-" + t).start(() -> {
                    try {
                        for (int i = 0; i < 50; i++) {
                            MsiRoutes.Interrupt irq = routes.allocate();
                            irq.update(0xfee0_0000L, 0x30 + id);
                            irq.trigger();
                            if (i % 5 == 0) {
                                kept.add(irq);
                            } else {
                                routes.release(irq);
                            }
                        }
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                }));
            }
            for (Thread t : threads) {
                t.join();
            }
            assertEquals(List.of(), errors);
            assertEquals(60, kept.size());
            Set<Integer> gsis = new HashSet<>();
            for (MsiRoutes.Interrupt irq : kept) {
                assertTrue(gsis.add(irq.gsi()), "GSI handed out twice: " + irq.gsi());
            }
            List<GsiRoute> msi = kvm.table.get().stream().filter(r -> r instanceof GsiRoute.Msi).toList();
            assertEquals(60, msi.size());
            assertEquals(gsis, new HashSet<>(msi.stream().map(GsiRoute::gsi).toList()));
            assertEquals(routes.routes(), kvm.table.get());
        }
    }
}
