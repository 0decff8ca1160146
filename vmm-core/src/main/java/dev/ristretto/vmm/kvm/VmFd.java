package dev.ristretto.vmm.kvm;

import static dev.ristretto.vmm.kvm.KvmAbi.IRQ_LEVEL;
import static dev.ristretto.vmm.kvm.KvmAbi.PIT_CONFIG;
import static dev.ristretto.vmm.kvm.KvmAbi.USERSPACE_MEMORY_REGION;

import dev.ristretto.vmm.device.IrqLine;
import dev.ristretto.vmm.host.EventFd;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.sys.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.OptionalLong;

/** A KVM virtual machine (api.rst §4, "vm ioctls"). Close the vCPUs before the VM. */
public final class VmFd extends Ioctl {
    /** KVM_MEM_LOG_DIRTY_PAGES and KVM_MEM_READONLY (api.rst §4.35). */
    public static final int MEM_LOG_DIRTY_PAGES = 1;
    public static final int MEM_READONLY = 2;

    private final int vcpuMmapSize;

    VmFd(int fd, int vcpuMmapSize) {
        super(fd, "KVM VM");
        this.vcpuMmapSize = vcpuMmapSize;
    }

    /**
     * KVM_SET_TSS_ADDR (api.rst §4.39): three pages of guest-physical address space Intel's VMX
     * needs for real-mode emulation. Must not overlap RAM or MMIO; required before the first run.
     */
    public void setTssAddr(GuestAddress addr) {
        if (addr.value() < 0 || addr.value() > 0xffff_ffffL - 3 * 4096 + 1) {
            throw new IllegalArgumentException("TSS address " + addr + " must leave three pages below 4 GiB");
        }
        call(KvmAbi.KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR", addr.value());
    }

    /**
     * KVM_SET_IDENTITY_MAP_ADDR (api.rst §4.51): one page for the identity-map page table VMX
     * uses for unpaged guests. Must not overlap RAM, MMIO or the TSS pages; set before creating vCPUs.
     */
    public void setIdentityMapAddr(GuestAddress addr) {
        try (Arena arena = Arena.ofConfined()) {
            call(KvmAbi.KVM_SET_IDENTITY_MAP_ADDR, "KVM_SET_IDENTITY_MAP_ADDR", arena.allocateFrom(ValueLayout.JAVA_LONG, addr.value()));
        }
    }

    /** KVM_CREATE_IRQCHIP (api.rst §4.24): in-kernel PIC, IOAPIC and per-vCPU LAPICs; before any vCPU. */
    public void createIrqchip() {
        call(KvmAbi.KVM_CREATE_IRQCHIP, "KVM_CREATE_IRQCHIP", 0);
    }

    /**
     * KVM_CREATE_PIT2 (api.rst §4.62) with KVM_PIT_SPEAKER_DUMMY: the in-kernel i8254, plus a
     * dummy port 0x61 so a guest probing the PC speaker gate sees a consistent answer.
     */
    public void createPit2() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment config = arena.allocate(PIT_CONFIG);
            config.set(ValueLayout.JAVA_INT, Structs.offset(PIT_CONFIG, "flags"), KvmAbi.KVM_PIT_SPEAKER_DUMMY);
            call(KvmAbi.KVM_CREATE_PIT2, "KVM_CREATE_PIT2", config);
        }
    }

    /**
     * KVM_SET_USER_MEMORY_REGION (api.rst §4.35): maps {@code host} at guest-physical {@code gpa}
     * in slot {@code slot}. Both the address and the size must be page-aligned. A zero-sized
     * {@code host} deletes the slot.
     */
    public void setUserMemoryRegion(int slot, GuestAddress gpa, MemorySegment host, int flags) {
        long size = host.byteSize();
        if (!gpa.isAligned(4096) || (size & 4095) != 0 || (host.address() & 4095) != 0) {
            throw new IllegalArgumentException("memory slot " + slot + ": guest address " + gpa + ", size 0x"
                    + Long.toHexString(size) + " and host address 0x" + Long.toHexString(host.address())
                    + " must all be multiples of 4 KiB");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment r = arena.allocate(USERSPACE_MEMORY_REGION);
            r.set(ValueLayout.JAVA_INT, Structs.offset(USERSPACE_MEMORY_REGION, "slot"), slot);
            r.set(ValueLayout.JAVA_INT, Structs.offset(USERSPACE_MEMORY_REGION, "flags"), flags);
            r.set(ValueLayout.JAVA_LONG, Structs.offset(USERSPACE_MEMORY_REGION, "guest_phys_addr"), gpa.value());
            r.set(ValueLayout.JAVA_LONG, Structs.offset(USERSPACE_MEMORY_REGION, "memory_size"), size);
            r.set(ValueLayout.JAVA_LONG, Structs.offset(USERSPACE_MEMORY_REGION, "userspace_addr"), host.address());
            call(KvmAbi.KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION", r);
        }
    }

    /** Drives GSI {@code gsi} of the in-kernel irqchip with KVM_IRQ_LINE (api.rst §4.25). */
    public void setIrqLine(int gsi, boolean level) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment l = arena.allocate(IRQ_LEVEL);
            l.set(ValueLayout.JAVA_INT, Structs.offset(IRQ_LEVEL, "irq"), gsi);
            l.set(ValueLayout.JAVA_INT, Structs.offset(IRQ_LEVEL, "level"), level ? 1 : 0);
            call(KvmAbi.KVM_IRQ_LINE, "KVM_IRQ_LINE", l);
        }
    }

    /** An {@link IrqLine} for GSI {@code gsi} (ISA IRQs 0-15 reach both PIC and IOAPIC; 16-23 the IOAPIC). */
    public IrqLine irqLine(int gsi) {
        if (gsi < 0) {
            throw new IllegalArgumentException("negative GSI " + gsi);
        }
        return asserted -> setIrqLine(gsi, asserted);
    }

    /** KVM_CREATE_VCPU (api.rst §4.7) and the vCPU's kvm_run mapping; {@code id} becomes its APIC ID. */
    public VcpuFd createVcpu(int id) {
        int fd = call(KvmAbi.KVM_CREATE_VCPU, "KVM_CREATE_VCPU", id);
        try {
            return new VcpuFd(fd, id, vcpuMmapSize);
        } catch (RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
    }

    /**
     * KVM_IOEVENTFD (api.rst §4.59): a guest write of {@code length} bytes to {@code address}
     * (and, with {@code datamatch}, of exactly that value) signals {@code eventfd} inside KVM and
     * the vCPU carries on — no KVM_EXIT_IO / KVM_EXIT_MMIO reaches us. Length 0 matches a write
     * of any length (and cannot have a datamatch); on MMIO it uses KVM's fast-MMIO bus.
     * Registering the same address, length and datamatch twice fails with EEXIST.
     */
    public void registerIoEvent(EventFd eventfd, IoEventSpace space, long address, int length, OptionalLong datamatch) {
        ioEvent(eventfd, space, address, length, datamatch, false);
    }

    /** Removes a doorbell registered with exactly these arguments (ENOENT when there is none). */
    public void unregisterIoEvent(EventFd eventfd, IoEventSpace space, long address, int length, OptionalLong datamatch) {
        ioEvent(eventfd, space, address, length, datamatch, true);
    }

    private void ioEvent(EventFd eventfd, IoEventSpace space, long address, int length, OptionalLong datamatch,
            boolean deassign) {
        // The kernel's own checks (virt/kvm/eventfd.c, kvm_assign_ioeventfd), made here so a
        // mistake names the value instead of surfacing as a bare EINVAL.
        if (length != 0 && length != 1 && length != 2 && length != 4 && length != 8) {
            throw new IllegalArgumentException("ioeventfd length " + length + " is not 0, 1, 2, 4 or 8");
        }
        if (length == 0 && datamatch.isPresent()) {
            throw new IllegalArgumentException("an ioeventfd of length 0 (any length) cannot match data");
        }
        if (space == IoEventSpace.PIO && (address < 0 || address > 0xffff || address + length > 0x10000)) {
            throw new IllegalArgumentException("I/O port range 0x" + Long.toHexString(address) + "+" + length
                    + " is outside 0..0xffff");
        }
        if (Long.compareUnsigned(address + length, address) < 0) {
            throw new IllegalArgumentException("MMIO range 0x" + Long.toHexString(address) + "+" + length + " wraps around");
        }
        if (datamatch.isPresent() && length < 8 && (datamatch.getAsLong() >>> (8 * length)) != 0) {
            // KVM compares the written value, zero-extended from length bytes: a wider value never matches.
            throw new IllegalArgumentException("datamatch 0x" + Long.toHexString(datamatch.getAsLong())
                    + " does not fit in a " + length + "-byte write");
        }
        int flags = (space == IoEventSpace.PIO ? KvmAbi.KVM_IOEVENTFD_FLAG_PIO : 0)
                | (datamatch.isPresent() ? KvmAbi.KVM_IOEVENTFD_FLAG_DATAMATCH : 0)
                | (deassign ? KvmAbi.KVM_IOEVENTFD_FLAG_DEASSIGN : 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(KvmAbi.IOEVENTFD); // zeroed: pad must be 0
            m.set(ValueLayout.JAVA_LONG, Structs.offset(KvmAbi.IOEVENTFD, "datamatch"), datamatch.orElse(0));
            m.set(ValueLayout.JAVA_LONG, Structs.offset(KvmAbi.IOEVENTFD, "addr"), address);
            m.set(ValueLayout.JAVA_INT, Structs.offset(KvmAbi.IOEVENTFD, "len"), length);
            m.set(ValueLayout.JAVA_INT, Structs.offset(KvmAbi.IOEVENTFD, "fd"), eventfd.fd());
            m.set(ValueLayout.JAVA_INT, Structs.offset(KvmAbi.IOEVENTFD, "flags"), flags);
            call(KvmAbi.KVM_IOEVENTFD, "KVM_IOEVENTFD", m);
        }
    }

    /**
     * KVM_IRQFD (api.rst §4.75): every write to {@code eventfd} injects GSI {@code gsi} through
     * the VM's routing table — for an MSI route, straight into the target LAPIC from the writing
     * thread, without waking any VMM thread. Edge semantics only (no resample fd). Needs the
     * in-kernel irqchip; binding one eventfd twice fails with EBUSY.
     */
    public void registerIrqFd(EventFd eventfd, int gsi) {
        irqFd(eventfd, gsi, 0);
    }

    /** Unbinds an irqfd registered with the same eventfd and GSI. */
    public void unregisterIrqFd(EventFd eventfd, int gsi) {
        irqFd(eventfd, gsi, KvmAbi.KVM_IRQFD_FLAG_DEASSIGN);
    }

    private void irqFd(EventFd eventfd, int gsi, int flags) {
        if (gsi < 0) {
            throw new IllegalArgumentException("negative GSI " + gsi);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(KvmAbi.IRQFD);
            m.set(ValueLayout.JAVA_INT, Structs.offset(KvmAbi.IRQFD, "fd"), eventfd.fd());
            m.set(ValueLayout.JAVA_INT, Structs.offset(KvmAbi.IRQFD, "gsi"), gsi);
            m.set(ValueLayout.JAVA_INT, Structs.offset(KvmAbi.IRQFD, "flags"), flags);
            call(KvmAbi.KVM_IRQFD, "KVM_IRQFD", m);
        }
    }

    /**
     * KVM_SET_GSI_ROUTING (api.rst §4.52): replaces the VM's whole routing table with
     * {@code routes} — every route KVM_CREATE_IRQCHIP installed is gone unless it is in the
     * list (see dev.ristretto.vmm.irq.MsiRoutes, which keeps them). Irqfds follow the new table
     * at once. Needs the in-kernel irqchip (EINVAL without it).
     */
    public void setGsiRouting(List<GsiRoute> routes) {
        long entrySize = KvmAbi.IRQ_ROUTING_ENTRY.byteSize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(KvmAbi.IRQ_ROUTING_HEADER.byteSize() + routes.size() * entrySize, 8);
            m.set(ValueLayout.JAVA_INT, Structs.offset(KvmAbi.IRQ_ROUTING_HEADER, "nr"), routes.size());
            long union = Structs.offset(KvmAbi.IRQ_ROUTING_ENTRY, "u");
            for (int i = 0; i < routes.size(); i++) {
                MemorySegment e = m.asSlice(KvmAbi.IRQ_ROUTING_HEADER.byteSize() + i * entrySize, entrySize);
                GsiRoute route = routes.get(i);
                e.set(ValueLayout.JAVA_INT, Structs.offset(KvmAbi.IRQ_ROUTING_ENTRY, "gsi"), route.gsi());
                switch (route) {
                    case GsiRoute.Irqchip r -> {
                        e.set(ValueLayout.JAVA_INT, Structs.offset(KvmAbi.IRQ_ROUTING_ENTRY, "type"),
                                KvmAbi.KVM_IRQ_ROUTING_IRQCHIP);
                        e.set(ValueLayout.JAVA_INT, union + Structs.offset(KvmAbi.ROUTE_IRQCHIP, "irqchip"), r.chip());
                        e.set(ValueLayout.JAVA_INT, union + Structs.offset(KvmAbi.ROUTE_IRQCHIP, "pin"), r.pin());
                    }
                    case GsiRoute.Msi r -> {
                        e.set(ValueLayout.JAVA_INT, Structs.offset(KvmAbi.IRQ_ROUTING_ENTRY, "type"),
                                KvmAbi.KVM_IRQ_ROUTING_MSI);
                        e.set(ValueLayout.JAVA_INT, union + Structs.offset(KvmAbi.ROUTE_MSI, "address_lo"), (int) r.address());
                        e.set(ValueLayout.JAVA_INT, union + Structs.offset(KvmAbi.ROUTE_MSI, "address_hi"),
                                (int) (r.address() >>> 32));
                        e.set(ValueLayout.JAVA_INT, union + Structs.offset(KvmAbi.ROUTE_MSI, "data"), r.data());
                    }
                }
            }
            call(KvmAbi.KVM_SET_GSI_ROUTING, "KVM_SET_GSI_ROUTING", m);
        }
    }

    /**
     * KVM_SIGNAL_MSI (api.rst §4.113): injects one MSI message now, from the calling thread.
     * Returns true when it was delivered, false when the guest blocked it (api.rst: "0 if guest
     * blocked the MSI", e.g. no LAPIC matches the destination).
     */
    public boolean signalMsi(long address, int data) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(KvmAbi.MSI);
            m.set(ValueLayout.JAVA_INT, Structs.offset(KvmAbi.MSI, "address_lo"), (int) address);
            m.set(ValueLayout.JAVA_INT, Structs.offset(KvmAbi.MSI, "address_hi"), (int) (address >>> 32));
            m.set(ValueLayout.JAVA_INT, Structs.offset(KvmAbi.MSI, "data"), data);
            return call(KvmAbi.KVM_SIGNAL_MSI, "KVM_SIGNAL_MSI", m) > 0;
        }
    }

    /**
     * KVM_CHECK_EXTENSION on the VM fd (api.rst §4.4, KVM_CAP_CHECK_EXTENSION_VM): the answer for
     * this VM, e.g. the route limit for {@link Capability#IRQ_ROUTING}.
     */
    public int checkExtension(Capability capability) {
        return call(KvmAbi.KVM_CHECK_EXTENSION, "KVM_CHECK_EXTENSION", capability.number());
    }
}
