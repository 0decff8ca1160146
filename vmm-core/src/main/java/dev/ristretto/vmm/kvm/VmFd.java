package dev.ristretto.vmm.kvm;

import static dev.ristretto.vmm.kvm.KvmAbi.IRQ_LEVEL;
import static dev.ristretto.vmm.kvm.KvmAbi.PIT_CONFIG;
import static dev.ristretto.vmm.kvm.KvmAbi.USERSPACE_MEMORY_REGION;

import dev.ristretto.vmm.device.IrqLine;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.sys.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

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
}
