package dev.ristretto.firmware.pvh;

import dev.ristretto.firmware.DescriptorTable;
import dev.ristretto.firmware.Segment;
import java.util.Objects;

/**
 * The boot vCPU's state at a PVH entry point (Xen docs/misc/pvh.pandoc, "x86/HVM direct boot
 * ABI"): 32-bit protected mode with paging off, EBX = the start_info address, flat 32-bit code
 * and data segments, a 32-bit TSS with base 0 and limit 0x67 in TR, interrupts off. A sibling of
 * {@link dev.ristretto.firmware.BootCpuState} with the same names where the two agree, so the
 * machine copies both into kvm_regs/kvm_sregs the same way; the difference is that the boot
 * information is in RBX, not RSI. General-purpose registers not listed are zero.
 *
 * @param rip    the XEN_ELFNOTE_PHYS32_ENTRY address
 * @param rbx    guest-physical address of struct hvm_start_info
 * @param rsp    a valid stack (the ABI leaves ESP undefined; we give a usable one anyway)
 * @param rflags 0x2: IF, TF and VM clear as the ABI requires
 * @param cr0    PE (and ET, which reads as 1 on every CPU since the 486); PG clear
 * @param cr3    0: paging is off
 * @param cr4    0: "all bits are cleared"
 * @param efer   0: not long mode
 */
public record PvhCpuState(long rip, long rbx, long rsp, long rflags, long cr0, long cr3, long cr4, long efer,
                          DescriptorTable gdt, DescriptorTable idt, Segment cs, Segment ds, Segment es, Segment fs,
                          Segment gs, Segment ss, Segment tr) {

    public PvhCpuState {
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
}
