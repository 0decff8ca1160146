package dev.ristretto.firmware;

import dev.ristretto.vmm.memory.GuestAddress;
import java.util.Objects;

/**
 * The boot vCPU's state at the kernel's 64-bit entry point (boot.rst "64-bit BOOT PROTOCOL"):
 * long mode with paging on, a GDT with flat __BOOT_CS/__BOOT_DS, interrupts off, %rsi pointing at
 * boot_params. Independent of KVM's structs: the machine copies these values into kvm_regs and
 * kvm_sregs. General-purpose registers not listed are zero.
 *
 * @param rip    kernel load address + 0x200 (the 64-bit entry, startup_64)
 * @param rsp    a valid stack in identity-mapped RAM
 * @param rsi    guest-physical address of the zero page
 * @param rflags 0x2: only the always-one bit; IF clear as the protocol requires
 */
public record BootCpuState(long rip, long rsp, long rsi, long rflags, long cr0, long cr3, long cr4, long efer,
                           DescriptorTable gdt, DescriptorTable idt, Segment cs, Segment ds, Segment es,
                           Segment fs, Segment gs, Segment ss, Segment tr) {

    /** CR0.PE: protected mode (Intel SDM Vol. 3A, "Control Registers"). */
    public static final long CR0_PE = 1L;
    /** CR0.ET: always 1 on processors since the 486. */
    public static final long CR0_ET = 1L << 4;
    /** CR0.PG: paging; together with EFER.LME it activates long mode. */
    public static final long CR0_PG = 1L << 31;
    /** CR4.PAE: required for IA-32e paging (Intel SDM Vol. 3A, "Four Paging Modes"). */
    public static final long CR4_PAE = 1L << 5;
    /** EFER.LME: long mode enable (Intel SDM Vol. 3A, "Extended Feature Enable Register"). */
    public static final long EFER_LME = 1L << 8;
    /** EFER.LMA: long mode active; KVM expects it set when loading a long-mode state directly. */
    public static final long EFER_LMA = 1L << 10;
    /** RFLAGS bit 1 is reserved and always reads 1. */
    public static final long RFLAGS_RESERVED = 1L << 1;

    public BootCpuState {
        Objects.requireNonNull(gdt);
        Objects.requireNonNull(idt);
        Objects.requireNonNull(cs);
        Objects.requireNonNull(ds);
        Objects.requireNonNull(es);
        Objects.requireNonNull(fs);
        Objects.requireNonNull(gs);
        Objects.requireNonNull(ss);
        Objects.requireNonNull(tr);
    }

    /**
     * The state for entering 64-bit code at {@code rip} with {@code %rsi = bootParams}, on the
     * boot page tables, GDT and TSS that {@link LinuxBootPlan#writeLongModeTables} writes: long
     * mode with paging, CS = __BOOT_CS, the data selectors = __BOOT_DS, interrupts off (boot.rst
     * "64-bit BOOT PROTOCOL"). Shared by the bzImage entry (load address + 0x200) and an ELF
     * kernel's entry point.
     */
    public static BootCpuState longModeEntry(GuestAddress rip, GuestAddress bootParams) {
        Segment data = Gdt.dataSegment();
        return new BootCpuState(
                rip.value(),
                Layout.BOOT_STACK_POINTER.value(),
                bootParams.value(),
                RFLAGS_RESERVED,
                CR0_PE | CR0_ET | CR0_PG,
                Layout.PML4.value(),
                CR4_PAE,
                EFER_LME | EFER_LMA,
                Gdt.register(Layout.GDT),
                // No IDT: base 0, limit 0, exactly what Linux itself loads when it wants none
                // (arch/x86/kernel/idt.c, idt_invalidate). Interrupts are off at entry and Linux
                // installs its own IDT before it enables them or can take an exception safely.
                new DescriptorTable(GuestAddress.of(0), 0),
                Gdt.codeSegment(), data, data, data, data, data,
                Gdt.taskSegment(Layout.BOOT_TSS));
    }
}
