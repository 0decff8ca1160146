package dev.ristretto.vmm.irq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.host.EventFd;
import dev.ristretto.vmm.host.IoEventWorker;
import dev.ristretto.vmm.kvm.IoEventSpace;
import dev.ristretto.vmm.kvm.Capability;
import dev.ristretto.vmm.kvm.GsiRoute;
import dev.ristretto.vmm.kvm.VcpuExit;
import dev.ristretto.vmm.memory.GuestAddress;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * MSI delivery into a real guest: through an irqfd bound to an MSI route ({@link MsiRoutes}),
 * and through KVM_SIGNAL_MSI. The guest (real mode, in-kernel irqchip, LAPIC software-enabled)
 * reports "ready", enables interrupts and halts in a loop — with the in-kernel LAPIC the HLT
 * stays inside KVM, so only an interrupt can move it on. The handler for vector 0x40 (IVT entry
 * at 0x100) writes the vector to port 0x3f8 and halts with interrupts off: it never returns, so
 * no IRET is needed.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MsiIT {
    static final int VECTOR = 0x40;
    /** Physical destination mode, APIC ID 0 (SDM vol 3 §11.11.1). */
    static final long MSI_ADDRESS = 0xfee0_0000L;
    /** Fixed delivery, edge-triggered, vector 0x40 (SDM vol 3 §11.11.2). */
    static final int MSI_DATA = VECTOR;
    static final Duration LIMIT = Duration.ofSeconds(30);
    static final long HANDLER = 0x1100;

    private static IrqGuest interruptibleGuest() {
        IrqGuest g = IrqGuest.create(true);
        // 0x1000: mov dx, 0x3f9 ; out dx, al ; sti ; 1: hlt ; jmp 1b
        g.load(IrqGuest.CODE, "ba f9 03  ee  fb  f4  eb fd");
        // 0x1100: mov dx, 0x3f8 ; mov al, 0x40 ; out dx, al ; cli ; 2: hlt ; jmp 2b
        g.load(HANDLER, "ba f8 03  b0 40  ee  fa  f4  eb fd");
        g.memory().writeShort(GuestAddress.of(4L * VECTOR), (short) HANDLER); // IVT: offset
        g.memory().writeShort(GuestAddress.of(4L * VECTOR + 2), (short) 0);   // IVT: segment
        g.enableLapic();
        return g;
    }

    /** Runs the guest on a vCPU thread until the handler's write; waits until the guest is ready. */
    private static CompletableFuture<VcpuExit> startAndAwaitReady(IrqGuest g, IrqGuest.Log ports) throws Exception {
        Bus io = Bus.builder("io").insert(0x3f8, 8, "test-ports", ports).build();
        Bus mmio = Bus.builder("mmio").build();
        CompletableFuture<VcpuExit> result = new CompletableFuture<>();
        Thread.ofPlatform().name("msi-vcpu").start(() -> {
            try {
                result.complete(g.run(io, mmio,
                        e -> e instanceof VcpuExit.IoOut out && out.port() == 0x3f8, LIMIT));
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        long deadline = System.nanoTime() + LIMIT.toNanos();
        while (!ports.entries.contains("W 1 00") && !result.isDone() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertFalse(result.isDone() && result.isCompletedExceptionally(), () -> result.exceptionNow().toString());
        assertTrue(ports.entries.contains("W 1 00"), "the guest never reported ready: " + ports.entries);
        // Give it time to reach the HLT loop; nothing may wake it yet.
        Thread.sleep(200);
        assertFalse(result.isDone(), "the guest left its HLT loop with no interrupt sent");
        return result;
    }

    private static void assertHandlerRan(CompletableFuture<VcpuExit> result) throws Exception {
        VcpuExit exit = result.get(LIMIT.toSeconds() + 10, TimeUnit.SECONDS);
        VcpuExit.IoOut out = assertInstanceOf(VcpuExit.IoOut.class, exit);
        assertEquals(0x3f8, out.port());
        assertEquals(List.of((byte) VECTOR), List.of(out.data()[0]), "the handler for vector 0x40 ran");
    }

    @Test
    void irqfdWithAnMsiRouteInterruptsTheGuest() throws Exception {
        try (IrqGuest g = interruptibleGuest()) {
            for (Capability c : List.of(Capability.IRQFD, Capability.IRQ_ROUTING)) {
                Assumptions.assumeTrue(g.kvm.has(c), "this host's KVM lacks " + c.headerName());
            }
            try (MsiRoutes routes = MsiRoutes.create(g.vm)) {
                MsiRoutes.Interrupt irq = routes.allocate();
                IrqGuest.Log ports = new IrqGuest.Log();
                CompletableFuture<VcpuExit> result = startAndAwaitReady(g, ports);

                // No route yet: KVM consumes the trigger and delivers nothing.
                irq.trigger();
                Thread.sleep(200);
                assertFalse(result.isDone(), "a trigger without a route reached the guest");

                irq.update(MSI_ADDRESS, MSI_DATA);
                assertTrue(routes.routes().contains(new GsiRoute.Msi(irq.gsi(), MSI_ADDRESS, MSI_DATA)));
                irq.trigger();
                assertHandlerRan(result);
            }
        }
    }

    @Test
    void signalMsiInterruptsTheGuest() throws Exception {
        try (IrqGuest g = interruptibleGuest()) {
            Assumptions.assumeTrue(g.kvm.has(Capability.SIGNAL_MSI), "this host's KVM lacks KVM_CAP_SIGNAL_MSI");
            IrqGuest.Log ports = new IrqGuest.Log();
            CompletableFuture<VcpuExit> result = startAndAwaitReady(g, ports);
            assertTrue(g.vm.signalMsi(MSI_ADDRESS, MSI_DATA), "KVM reports the MSI as blocked");
            assertHandlerRan(result);
        }
    }

    @Test
    void signalMsiToNoLapicIsReportedAsNotDelivered() {
        try (IrqGuest g = IrqGuest.create(true)) {
            Assumptions.assumeTrue(g.kvm.has(Capability.SIGNAL_MSI), "this host's KVM lacks KVM_CAP_SIGNAL_MSI");
            // Physical destination APIC ID 5: this VM has only APIC ID 0.
            assertFalse(g.vm.signalMsi(0xfee0_5000L, MSI_DATA));
        }
    }

    /**
     * The whole virtio notification path with no exit to userspace on the vCPU: the guest rings
     * a doorbell (ioeventfd), a device worker thread wakes on it and raises an MSI (irqfd), and
     * the guest's handler runs. The doorbell port lies inside the logged range, so an exit for
     * it would show up in the log.
     */
    @Test
    void doorbellToWorkerToInterruptRoundTrip() throws Exception {
        try (IrqGuest g = interruptibleGuest(); EventFd doorbell = EventFd.createNonBlocking();
             IoEventWorker worker = new IoEventWorker("msi-it-worker")) {
            for (Capability c : List.of(Capability.IOEVENTFD, Capability.IRQFD, Capability.IRQ_ROUTING)) {
                Assumptions.assumeTrue(g.kvm.has(c), "this host's KVM lacks " + c.headerName());
            }
            try (MsiRoutes routes = MsiRoutes.create(g.vm)) {
                MsiRoutes.Interrupt irq = routes.allocate();
                irq.update(MSI_ADDRESS, MSI_DATA);
                g.vm.registerIoEvent(doorbell, IoEventSpace.PIO, 0x3fa, 1, OptionalLong.empty());
                worker.register(doorbell, irq::trigger);
                worker.start();
                // 0x1000: mov dx, 0x3fa ; out dx, al (doorbell) ; sti ; 1: hlt ; jmp 1b
                g.load(IrqGuest.CODE, "ba fa 03  ee  fb  f4  eb fd");
                IrqGuest.Log ports = new IrqGuest.Log();
                Bus io = Bus.builder("io").insert(0x3f8, 8, "test-ports", ports).build();
                VcpuExit exit = g.run(io, Bus.builder("mmio").build(),
                        e -> e instanceof VcpuExit.IoOut out && out.port() == 0x3f8, LIMIT);
                VcpuExit.IoOut out = assertInstanceOf(VcpuExit.IoOut.class, exit);
                assertEquals(VECTOR, out.data()[0]);
                assertEquals(List.of(), ports.entries, "the doorbell write exited to userspace");
                assertEquals(0, worker.callbackFailures());
            }
        }
    }
}
