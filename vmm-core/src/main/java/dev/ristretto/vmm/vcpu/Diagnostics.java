package dev.ristretto.vmm.vcpu;

import dev.ristretto.vmm.kvm.DescriptorTable;
import dev.ristretto.vmm.kvm.Regs;
import dev.ristretto.vmm.kvm.Segment;
import dev.ristretto.vmm.kvm.Sregs;
import dev.ristretto.vmm.kvm.Translation;
import dev.ristretto.vmm.kvm.VcpuExit;
import dev.ristretto.vmm.kvm.VcpuFd;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import java.util.ArrayList;
import java.util.List;

/**
 * A register dump for a vCPU that stopped unexpectedly, laid out like QEMU's on
 * "KVM internal error" (cpu_dump_state): the exit, general registers, segments, descriptor
 * tables, control registers, EFER, and the code bytes at RIP. Enough to find the failing
 * instruction with a disassembler without rerunning the guest.
 */
public final class Diagnostics {
    /** How many code bytes to show from RIP: the longest x86 instruction is 15 bytes. */
    static final int CODE_BYTES = 16;
    private static final long PAGE = 4096;

    private Diagnostics() {
    }

    /** Multi-line text describing {@code exit} and the vCPU's state; never throws for a readable vCPU. */
    public static String describe(VcpuFd vcpu, VcpuExit exit, GuestMemory memory) {
        StringBuilder sb = new StringBuilder();
        sb.append("vCPU ").append(vcpu.id()).append(": ").append(exitLine(exit)).append('\n');
        if (exit instanceof VcpuExit.InternalError err && !err.data().isEmpty()) {
            sb.append("internal error data:");
            for (long w : err.data()) {
                sb.append(' ').append(hex16(w));
            }
            sb.append('\n');
        }
        Regs r;
        Sregs s;
        try {
            r = vcpu.getRegs();
            s = vcpu.getSregs();
        } catch (RuntimeException e) {
            return sb.append("registers unavailable: ").append(e.getMessage()).append('\n').toString();
        }
        sb.append(String.format("RAX=%016x RBX=%016x RCX=%016x RDX=%016x%n", r.rax(), r.rbx(), r.rcx(), r.rdx()));
        sb.append(String.format("RSI=%016x RDI=%016x RBP=%016x RSP=%016x%n", r.rsi(), r.rdi(), r.rbp(), r.rsp()));
        sb.append(String.format("R8 =%016x R9 =%016x R10=%016x R11=%016x%n", r.r8(), r.r9(), r.r10(), r.r11()));
        sb.append(String.format("R12=%016x R13=%016x R14=%016x R15=%016x%n", r.r12(), r.r13(), r.r14(), r.r15()));
        sb.append(String.format("RIP=%016x RFL=%08x%n", r.rip(), r.rflags()));
        segment(sb, "ES", s.es());
        segment(sb, "CS", s.cs());
        segment(sb, "SS", s.ss());
        segment(sb, "DS", s.ds());
        segment(sb, "FS", s.fs());
        segment(sb, "GS", s.gs());
        segment(sb, "LDT", s.ldt());
        segment(sb, "TR", s.tr());
        table(sb, "GDT", s.gdt());
        table(sb, "IDT", s.idt());
        sb.append(String.format("CR0=%08x CR2=%016x CR3=%016x CR4=%08x%n", s.cr0(), s.cr2(), s.cr3(), s.cr4()));
        sb.append(String.format("EFER=%016x APIC_BASE=%016x%n", s.efer(), s.apicBase()));
        sb.append(codeLine(vcpu, r, s, memory)).append('\n');
        return sb.toString();
    }

    static String exitLine(VcpuExit exit) {
        return switch (exit) {
            case VcpuExit.InternalError err -> "KVM internal error. Suberror: " + err.suberror() + " ("
                    + err.suberrorName() + ")";
            case VcpuExit.FailEntry f -> "KVM_EXIT_FAIL_ENTRY, hardware entry failure reason 0x"
                    + Long.toHexString(f.hardwareReason()) + " on host CPU " + f.cpu();
            case VcpuExit.Shutdown ignored -> "KVM_EXIT_SHUTDOWN (triple fault)";
            case VcpuExit.SystemEvent ev -> "KVM_EXIT_SYSTEM_EVENT (" + ev.typeName() + ") " + ev.data();
            case VcpuExit.Unknown u -> "unhandled KVM exit reason " + u.reason();
            default -> "exit " + exit;
        };
    }

    private static void segment(StringBuilder sb, String name, Segment seg) {
        sb.append(String.format("%-3s=%04x %016x %08x %08x%s%n", name, seg.selector(), seg.base(), seg.limit(),
                seg.attributes(), seg.unusable() ? " unusable" : ""));
    }

    private static void table(StringBuilder sb, String name, DescriptorTable t) {
        sb.append(String.format("%-3s=     %016x %08x%n", name, t.base(), t.limit()));
    }

    /**
     * "Code=" and the bytes at RIP. The linear address is CS.base + RIP, wrapped at 4 GiB, outside
     * 64-bit mode (in 64-bit mode CS.base is ignored, SDM vol 3 §3.4.4); each page is translated with
     * KVM_TRANSLATE, and bytes stop at the first page that is not mapped or not RAM.
     */
    static String codeLine(VcpuFd vcpu, Regs r, Sregs s, GuestMemory memory) {
        boolean longMode = s.longMode() && s.cs().l();
        long linear = longMode ? r.rip() : s.cs().base() + r.rip();
        if (!longMode) {
            linear &= 0xffff_ffffL; // linear addresses are 32 bits outside 64-bit mode
        }
        List<String> bytes = new ArrayList<>(CODE_BYTES);
        String stopped = null;
        long physical = -1;
        long firstPhysical = -1;
        for (int i = 0; i < CODE_BYTES; i++) {
            long lin = linear + i;
            if (i == 0 || (lin & (PAGE - 1)) == 0) {
                Translation t;
                try {
                    t = vcpu.translate(lin);
                } catch (RuntimeException e) {
                    stopped = "translation of 0x" + Long.toHexString(lin) + " failed: " + e.getMessage();
                    break;
                }
                if (!t.valid()) {
                    stopped = "linear 0x" + Long.toHexString(lin) + " not mapped";
                    break;
                }
                physical = t.physical();
            } else {
                physical++;
            }
            if (i == 0) {
                firstPhysical = physical;
            }
            GuestAddress pa = GuestAddress.of(physical);
            if (!memory.contains(pa, 1)) {
                stopped = "physical 0x" + Long.toHexString(physical) + " is not RAM";
                break;
            }
            bytes.add(String.format("%02x", memory.readByte(pa) & 0xff));
        }
        String where = "linear " + hex16(linear) + (firstPhysical >= 0 ? ", physical " + hex16(firstPhysical) : "");
        if (bytes.isEmpty()) {
            return "Code (" + where + ")=unavailable (" + stopped + ")";
        }
        return "Code (" + where + ")=" + String.join(" ", bytes) + (stopped == null ? "" : " (then " + stopped + ")");
    }

    private static String hex16(long v) {
        return String.format("%016x", v);
    }
}
