package dev.ristretto.vmm.kvm;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * The KVM userspace ABI for x86-64 as Java constants and memory layouts: ioctl request numbers,
 * capability numbers, exit reasons and the structs the ioctls take. Transcribed from
 * {@code linux/kvm.h} and {@code asm/kvm.h}; {@code KvmAbiTest} compiles a C program against the
 * installed headers and checks every number, size and offset here against it.
 */
final class KvmAbi {
    private KvmAbi() {
    }

    // ---- ioctl encoding (asm-generic/ioctl.h): dir[31:30] size[29:16] type[15:8] nr[7:0] ----
    private static final int IOC_NONE = 0;
    private static final int IOC_WRITE = 1;
    private static final int IOC_READ = 2;
    private static final int KVMIO = 0xAE;

    static long ioc(int dir, int nr, long size) {
        if (size < 0 || size >= (1 << 14)) {
            throw new IllegalArgumentException("ioctl argument size " + size + " does not fit in 14 bits");
        }
        return ((long) dir << 30) | (size << 16) | ((long) KVMIO << 8) | nr;
    }

    static long io(int nr) {
        return ioc(IOC_NONE, nr, 0);
    }

    static long ior(int nr, MemoryLayout l) {
        return ioc(IOC_READ, nr, l.byteSize());
    }

    static long iow(int nr, MemoryLayout l) {
        return ioc(IOC_WRITE, nr, l.byteSize());
    }

    static long iowr(int nr, MemoryLayout l) {
        return ioc(IOC_READ | IOC_WRITE, nr, l.byteSize());
    }

    // ---- structs (linux/kvm.h, asm/kvm.h) ----
    static final StructLayout USERSPACE_MEMORY_REGION = structLayout(
            JAVA_INT.withName("slot"), JAVA_INT.withName("flags"),
            JAVA_LONG.withName("guest_phys_addr"), JAVA_LONG.withName("memory_size"),
            JAVA_LONG.withName("userspace_addr")).withName("kvm_userspace_memory_region");

    static final StructLayout REGS = structLayout(
            JAVA_LONG.withName("rax"), JAVA_LONG.withName("rbx"), JAVA_LONG.withName("rcx"), JAVA_LONG.withName("rdx"),
            JAVA_LONG.withName("rsi"), JAVA_LONG.withName("rdi"), JAVA_LONG.withName("rsp"), JAVA_LONG.withName("rbp"),
            JAVA_LONG.withName("r8"), JAVA_LONG.withName("r9"), JAVA_LONG.withName("r10"), JAVA_LONG.withName("r11"),
            JAVA_LONG.withName("r12"), JAVA_LONG.withName("r13"), JAVA_LONG.withName("r14"), JAVA_LONG.withName("r15"),
            JAVA_LONG.withName("rip"), JAVA_LONG.withName("rflags")).withName("kvm_regs");

    static final StructLayout SEGMENT = structLayout(
            JAVA_LONG.withName("base"), JAVA_INT.withName("limit"), JAVA_SHORT.withName("selector"),
            JAVA_BYTE.withName("type"), JAVA_BYTE.withName("present"), JAVA_BYTE.withName("dpl"),
            JAVA_BYTE.withName("db"), JAVA_BYTE.withName("s"), JAVA_BYTE.withName("l"), JAVA_BYTE.withName("g"),
            JAVA_BYTE.withName("avl"), JAVA_BYTE.withName("unusable"), JAVA_BYTE.withName("padding"))
            .withName("kvm_segment");

    static final StructLayout DTABLE = structLayout(
            JAVA_LONG.withName("base"), JAVA_SHORT.withName("limit"),
            sequenceLayout(3, JAVA_SHORT).withName("padding")).withName("kvm_dtable");

    static final StructLayout SREGS = structLayout(
            SEGMENT.withName("cs"), SEGMENT.withName("ds"), SEGMENT.withName("es"), SEGMENT.withName("fs"),
            SEGMENT.withName("gs"), SEGMENT.withName("ss"), SEGMENT.withName("tr"), SEGMENT.withName("ldt"),
            DTABLE.withName("gdt"), DTABLE.withName("idt"),
            JAVA_LONG.withName("cr0"), JAVA_LONG.withName("cr2"), JAVA_LONG.withName("cr3"), JAVA_LONG.withName("cr4"),
            JAVA_LONG.withName("cr8"), JAVA_LONG.withName("efer"), JAVA_LONG.withName("apic_base"),
            // KVM_NR_INTERRUPTS (256) bits
            sequenceLayout(4, JAVA_LONG).withName("interrupt_bitmap")).withName("kvm_sregs");

    static final StructLayout FPU = structLayout(
            sequenceLayout(8, sequenceLayout(16, JAVA_BYTE)).withName("fpr"),
            JAVA_SHORT.withName("fcw"), JAVA_SHORT.withName("fsw"), JAVA_BYTE.withName("ftwx"),
            JAVA_BYTE.withName("pad1"), JAVA_SHORT.withName("last_opcode"),
            JAVA_LONG.withName("last_ip"), JAVA_LONG.withName("last_dp"),
            sequenceLayout(16, sequenceLayout(16, JAVA_BYTE)).withName("xmm"),
            JAVA_INT.withName("mxcsr"), JAVA_INT.withName("pad2")).withName("kvm_fpu");

    static final StructLayout MSRS_HEADER = structLayout(
            JAVA_INT.withName("nmsrs"), JAVA_INT.withName("pad")).withName("kvm_msrs");

    static final StructLayout MSR_ENTRY = structLayout(
            JAVA_INT.withName("index"), JAVA_INT.withName("reserved"), JAVA_LONG.withName("data"))
            .withName("kvm_msr_entry");

    static final StructLayout CPUID2_HEADER = structLayout(
            JAVA_INT.withName("nent"), JAVA_INT.withName("padding")).withName("kvm_cpuid2");

    static final StructLayout CPUID_ENTRY2 = structLayout(
            JAVA_INT.withName("function"), JAVA_INT.withName("index"), JAVA_INT.withName("flags"),
            JAVA_INT.withName("eax"), JAVA_INT.withName("ebx"), JAVA_INT.withName("ecx"), JAVA_INT.withName("edx"),
            sequenceLayout(3, JAVA_INT).withName("padding")).withName("kvm_cpuid_entry2");

    static final StructLayout LAPIC_STATE = structLayout(
            sequenceLayout(1024, JAVA_BYTE).withName("regs")).withName("kvm_lapic_state");

    static final StructLayout TRANSLATION = structLayout(
            JAVA_LONG.withName("linear_address"), JAVA_LONG.withName("physical_address"),
            JAVA_BYTE.withName("valid"), JAVA_BYTE.withName("writeable"), JAVA_BYTE.withName("usermode"),
            sequenceLayout(5, JAVA_BYTE).withName("pad")).withName("kvm_translation");

    static final StructLayout IRQ_LEVEL = structLayout(
            JAVA_INT.withName("irq"), JAVA_INT.withName("level")).withName("kvm_irq_level");

    static final StructLayout PIT_CONFIG = structLayout(
            JAVA_INT.withName("flags"), sequenceLayout(15, JAVA_INT).withName("pad")).withName("kvm_pit_config");

    /** api.rst §4.59: a doorbell address whose guest writes signal an eventfd inside KVM. */
    static final StructLayout IOEVENTFD = structLayout(
            JAVA_LONG.withName("datamatch"), JAVA_LONG.withName("addr"), JAVA_INT.withName("len"),
            JAVA_INT.withName("fd"), JAVA_INT.withName("flags"), sequenceLayout(36, JAVA_BYTE).withName("pad"))
            .withName("kvm_ioeventfd");

    /** api.rst §4.75: an eventfd whose writes inject GSI {@code gsi}. */
    static final StructLayout IRQFD = structLayout(
            JAVA_INT.withName("fd"), JAVA_INT.withName("gsi"), JAVA_INT.withName("flags"),
            JAVA_INT.withName("resamplefd"), sequenceLayout(16, JAVA_BYTE).withName("pad")).withName("kvm_irqfd");

    /** api.rst §4.52: the header of KVM_SET_GSI_ROUTING's argument; {@code nr} entries follow it. */
    static final StructLayout IRQ_ROUTING_HEADER = structLayout(
            JAVA_INT.withName("nr"), JAVA_INT.withName("flags")).withName("kvm_irq_routing");

    /** One routing entry: a fixed header and a 32-byte union ({@link #ROUTE_IRQCHIP} or {@link #ROUTE_MSI}). */
    static final StructLayout IRQ_ROUTING_ENTRY = structLayout(
            JAVA_INT.withName("gsi"), JAVA_INT.withName("type"), JAVA_INT.withName("flags"), JAVA_INT.withName("pad"),
            sequenceLayout(8, JAVA_INT).withName("u")).withName("kvm_irq_routing_entry");

    static final StructLayout ROUTE_IRQCHIP = structLayout(
            JAVA_INT.withName("irqchip"), JAVA_INT.withName("pin")).withName("kvm_irq_routing_irqchip");

    static final StructLayout ROUTE_MSI = structLayout(
            JAVA_INT.withName("address_lo"), JAVA_INT.withName("address_hi"), JAVA_INT.withName("data"),
            JAVA_INT.withName("pad")).withName("kvm_irq_routing_msi");

    /** api.rst §4.113 KVM_SIGNAL_MSI. */
    static final StructLayout MSI = structLayout(
            JAVA_INT.withName("address_lo"), JAVA_INT.withName("address_hi"), JAVA_INT.withName("data"),
            JAVA_INT.withName("flags"), JAVA_INT.withName("devid"), sequenceLayout(12, JAVA_BYTE).withName("pad"))
            .withName("kvm_msi");

    // ---- struct kvm_run (api.rst §5 "The kvm_run structure") ----
    /** The exit-specific union starts here, after the fixed header. */
    static final long RUN_EXIT_UNION = 32;

    static final StructLayout RUN_HEADER = structLayout(
            JAVA_BYTE.withName("request_interrupt_window"), JAVA_BYTE.withName("immediate_exit"),
            paddingLayout(6), JAVA_INT.withName("exit_reason"),
            JAVA_BYTE.withName("ready_for_interrupt_injection"), JAVA_BYTE.withName("if_flag"),
            JAVA_SHORT.withName("flags"), JAVA_LONG.withName("cr8"), JAVA_LONG.withName("apic_base"))
            .withName("kvm_run");

    static final StructLayout RUN_IO = structLayout(
            JAVA_BYTE.withName("direction"), JAVA_BYTE.withName("size"), JAVA_SHORT.withName("port"),
            JAVA_INT.withName("count"), JAVA_LONG.withName("data_offset")).withName("io");

    static final StructLayout RUN_MMIO = structLayout(
            JAVA_LONG.withName("phys_addr"), sequenceLayout(8, JAVA_BYTE).withName("data"),
            JAVA_INT.withName("len"), JAVA_BYTE.withName("is_write"), paddingLayout(3)).withName("mmio");

    static final StructLayout RUN_FAIL_ENTRY = structLayout(
            JAVA_LONG.withName("hardware_entry_failure_reason"), JAVA_INT.withName("cpu"), paddingLayout(4))
            .withName("fail_entry");

    static final StructLayout RUN_INTERNAL = structLayout(
            JAVA_INT.withName("suberror"), JAVA_INT.withName("ndata"),
            sequenceLayout(16, JAVA_LONG).withName("data")).withName("internal");

    static final StructLayout RUN_SYSTEM_EVENT = structLayout(
            JAVA_INT.withName("type"), JAVA_INT.withName("ndata"),
            sequenceLayout(16, JAVA_LONG).withName("data")).withName("system_event");

    static final StructLayout RUN_DEBUG = structLayout(
            JAVA_INT.withName("exception"), JAVA_INT.withName("pad"), JAVA_LONG.withName("pc"),
            JAVA_LONG.withName("dr6"), JAVA_LONG.withName("dr7")).withName("debug");

    static final int EXIT_IO_IN = 0;
    static final int EXIT_IO_OUT = 1;

    // ---- ioctl requests ----
    static final long KVM_GET_API_VERSION = io(0x00);
    static final long KVM_CREATE_VM = io(0x01);
    static final long KVM_CHECK_EXTENSION = io(0x03);
    static final long KVM_GET_VCPU_MMAP_SIZE = io(0x04);
    static final long KVM_GET_SUPPORTED_CPUID = iowr(0x05, CPUID2_HEADER);
    static final long KVM_CREATE_VCPU = io(0x41);
    static final long KVM_SET_USER_MEMORY_REGION = iow(0x46, USERSPACE_MEMORY_REGION);
    static final long KVM_SET_TSS_ADDR = io(0x47);
    static final long KVM_SET_IDENTITY_MAP_ADDR = iow(0x48, JAVA_LONG);
    static final long KVM_CREATE_IRQCHIP = io(0x60);
    static final long KVM_IRQ_LINE = iow(0x61, IRQ_LEVEL);
    static final long KVM_SET_GSI_ROUTING = iow(0x6a, IRQ_ROUTING_HEADER);
    static final long KVM_IRQFD = iow(0x76, IRQFD);
    static final long KVM_CREATE_PIT2 = iow(0x77, PIT_CONFIG);
    static final long KVM_IOEVENTFD = iow(0x79, IOEVENTFD);
    static final long KVM_SIGNAL_MSI = iow(0xa5, MSI);
    static final long KVM_RUN = io(0x80);
    static final long KVM_GET_REGS = ior(0x81, REGS);
    static final long KVM_SET_REGS = iow(0x82, REGS);
    static final long KVM_GET_SREGS = ior(0x83, SREGS);
    static final long KVM_SET_SREGS = iow(0x84, SREGS);
    static final long KVM_TRANSLATE = iowr(0x85, TRANSLATION);
    static final long KVM_SET_MSRS = iow(0x89, MSRS_HEADER);
    static final long KVM_SET_FPU = iow(0x8d, FPU);
    static final long KVM_GET_LAPIC = ior(0x8e, LAPIC_STATE);
    static final long KVM_SET_LAPIC = iow(0x8f, LAPIC_STATE);
    static final long KVM_SET_CPUID2 = iow(0x90, CPUID2_HEADER);

    /** KVM_GET_API_VERSION must return this (api.rst §4.1); it has not changed since 2.6.22. */
    static final int KVM_API_VERSION = 12;

    static final int KVM_CAP_NR_VCPUS = 9;
    static final int KVM_CAP_MAX_VCPUS = 66;

    static final int KVM_PIT_SPEAKER_DUMMY = 1;

    // ---- KVM_IOEVENTFD flags (api.rst §4.59) ----
    static final int KVM_IOEVENTFD_FLAG_DATAMATCH = 1;
    static final int KVM_IOEVENTFD_FLAG_PIO = 2;
    static final int KVM_IOEVENTFD_FLAG_DEASSIGN = 4;

    // ---- KVM_IRQFD flags (api.rst §4.75) ----
    static final int KVM_IRQFD_FLAG_DEASSIGN = 1;

    // ---- kvm_irq_routing_entry.type (api.rst §4.52) ----
    static final int KVM_IRQ_ROUTING_IRQCHIP = 1;
    static final int KVM_IRQ_ROUTING_MSI = 2;

    // ---- exit reasons ----
    static final int KVM_EXIT_UNKNOWN = 0;
    static final int KVM_EXIT_EXCEPTION = 1;
    static final int KVM_EXIT_IO = 2;
    static final int KVM_EXIT_DEBUG = 4;
    static final int KVM_EXIT_HLT = 5;
    static final int KVM_EXIT_MMIO = 6;
    static final int KVM_EXIT_SHUTDOWN = 8;
    static final int KVM_EXIT_FAIL_ENTRY = 9;
    static final int KVM_EXIT_INTR = 10;
    static final int KVM_EXIT_INTERNAL_ERROR = 17;
    static final int KVM_EXIT_SYSTEM_EVENT = 24;

    // ---- KVM_CPUID_FLAG_* ----
    static final int KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;
}
