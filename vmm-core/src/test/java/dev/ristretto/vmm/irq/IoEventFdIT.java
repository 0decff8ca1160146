package dev.ristretto.vmm.irq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.host.EventFd;
import dev.ristretto.vmm.kvm.Capability;
import dev.ristretto.vmm.kvm.IoEventSpace;
import dev.ristretto.vmm.kvm.KvmException;
import dev.ristretto.vmm.kvm.Regs;
import dev.ristretto.vmm.kvm.VcpuExit;
import dev.ristretto.vmm.sys.Errno;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * KVM_IOEVENTFD with real guests: a write to a registered doorbell signals the eventfd inside
 * KVM and never reaches userspace, while the same guest's other writes still do.
 * Guest code is real-mode machine code; the assembly is in the comments (checked with GNU as).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class IoEventFdIT {
    static final Duration LIMIT = Duration.ofSeconds(30);
    static final Bus NO_MMIO = Bus.builder("mmio").build();

    private static void assumeCapability(IrqGuest g, Capability c) {
        Assumptions.assumeTrue(g.kvm.has(c), "this host's KVM lacks " + c.headerName());
    }

    @Test
    void portWriteToADoorbellSignalsTheEventfdWithoutAnExit() {
        try (IrqGuest g = IrqGuest.create(false); EventFd doorbell = EventFd.createNonBlocking()) {
            assumeCapability(g, Capability.IOEVENTFD);
            // mov dx, 0x600 ; mov al, 0x5a ; out dx, al   -> the doorbell, handled inside KVM
            // mov dx, 0x601 ; out dx, al                  -> an ordinary port: KVM_EXIT_IO
            // hlt
            g.load(IrqGuest.CODE, "ba 00 06  b0 5a  ee  ba 01 06  ee  f4");
            IrqGuest.Log ports = new IrqGuest.Log();
            Bus io = Bus.builder("io").insert(0x600, 8, "test-ports", ports).build();
            g.vm.registerIoEvent(doorbell, IoEventSpace.PIO, 0x600, 1, OptionalLong.empty());

            assertInstanceOf(VcpuExit.Hlt.class, g.run(io, NO_MMIO, e -> false, LIMIT));
            assertEquals(List.of("W 1 5a"), ports.entries, "the doorbell write reached userspace");
            assertEquals(1, doorbell.read(), "KVM did not signal the eventfd");

            // Registering the same doorbell twice is refused (EEXIST) ...
            KvmException dup = assertThrows(KvmException.class,
                    () -> g.vm.registerIoEvent(doorbell, IoEventSpace.PIO, 0x600, 1, OptionalLong.empty()));
            assertEquals(Errno.EEXIST, dup.errno());
            // ... and once unregistered, the same write exits to userspace again.
            g.vm.unregisterIoEvent(doorbell, IoEventSpace.PIO, 0x600, 1, OptionalLong.empty());
            ports.entries.clear();
            g.vcpu.setRegs(Regs.initial().withRip(IrqGuest.CODE).withRsp(0x8000));
            assertInstanceOf(VcpuExit.Hlt.class, g.run(io, NO_MMIO, e -> false, LIMIT));
            assertEquals(List.of("W 0 5a", "W 1 5a"), ports.entries);
            assertEquals(0, doorbell.read());
        }
    }

    @Test
    void mmioWriteWithDatamatchSignalsOnlyForTheMatchingValue() {
        try (IrqGuest g = IrqGuest.create(false); EventFd doorbell = EventFd.createNonBlocking()) {
            assumeCapability(g, Capability.IOEVENTFD);
            // mov ax, 0x2000 ; mov ds, ax        ; DS base 0x20000: past the 64 KiB of RAM, MMIO
            // mov word [0x10], 7                 ; matches: signalled inside KVM
            // mov word [0x10], 8                 ; does not match: KVM_EXIT_MMIO
            // hlt
            g.load(IrqGuest.CODE, "b8 00 20  8e d8  c7 06 10 00 07 00  c7 06 10 00 08 00  f4");
            IrqGuest.Log regs = new IrqGuest.Log();
            Bus mmio = Bus.builder("mmio").insert(0x20000, 0x1000, "test-mmio", regs).build();
            g.vm.registerIoEvent(doorbell, IoEventSpace.MMIO, 0x20010, 2, OptionalLong.of(7));

            assertInstanceOf(VcpuExit.Hlt.class, g.run(Bus.builder("io").build(), mmio, e -> false, LIMIT));
            assertEquals(List.of("W 10 0800"), regs.entries, "only the non-matching write may reach userspace");
            assertEquals(1, doorbell.read(), "KVM did not signal the eventfd for the matching write");
        }
    }

    @Test
    void argumentsKvmWouldRefuseAreRejectedWithTheValue() {
        try (IrqGuest g = IrqGuest.create(false); EventFd e = EventFd.createNonBlocking()) {
            IllegalArgumentException len = assertThrows(IllegalArgumentException.class,
                    () -> g.vm.registerIoEvent(e, IoEventSpace.MMIO, 0x20000, 3, OptionalLong.empty()));
            assertEquals("ioeventfd length 3 is not 0, 1, 2, 4 or 8", len.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> g.vm.registerIoEvent(e, IoEventSpace.MMIO, 0x20000, 0, OptionalLong.of(1)));
            assertThrows(IllegalArgumentException.class,
                    () -> g.vm.registerIoEvent(e, IoEventSpace.PIO, 0xffff, 2, OptionalLong.empty()));
            assertThrows(IllegalArgumentException.class,
                    () -> g.vm.registerIoEvent(e, IoEventSpace.PIO, 0x10000, 0, OptionalLong.empty()));
            assertThrows(IllegalArgumentException.class,
                    () -> g.vm.registerIoEvent(e, IoEventSpace.MMIO, -4, 8, OptionalLong.empty()));
            IllegalArgumentException wide = assertThrows(IllegalArgumentException.class,
                    () -> g.vm.registerIoEvent(e, IoEventSpace.PIO, 0x600, 2, OptionalLong.of(0x10000)));
            assertEquals("datamatch 0x10000 does not fit in a 2-byte write", wide.getMessage());
            // Unregistering what was never registered: KVM answers ENOENT.
            KvmException none = assertThrows(KvmException.class,
                    () -> g.vm.unregisterIoEvent(e, IoEventSpace.PIO, 0x600, 1, OptionalLong.empty()));
            assertEquals(Errno.ENOENT, none.errno());
        }
    }
}
