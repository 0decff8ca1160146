package dev.ristretto.vmm.kvm;

import static dev.ristretto.vmm.kvm.KvmAbi.CPUID_ENTRY2;
import static dev.ristretto.vmm.kvm.KvmAbi.DTABLE;
import static dev.ristretto.vmm.kvm.KvmAbi.REGS;
import static dev.ristretto.vmm.kvm.KvmAbi.SEGMENT;
import static dev.ristretto.vmm.kvm.KvmAbi.SREGS;
import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

/** Marshalling between the kernel structs (laid out by {@link KvmAbi}) and the value records. */
final class Structs {
    private Structs() {
    }

    static long offset(StructLayout layout, String field) {
        return layout.byteOffset(groupElement(field));
    }

    private static final String[] REG_NAMES = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};

    static Regs readRegs(MemorySegment m) {
        long[] v = new long[REG_NAMES.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = m.get(ValueLayout.JAVA_LONG, offset(REGS, REG_NAMES[i]));
        }
        return new Regs(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12],
                v[13], v[14], v[15], v[16], v[17]);
    }

    static void writeRegs(MemorySegment m, Regs r) {
        long[] v = {r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rsp(), r.rbp(), r.r8(), r.r9(),
            r.r10(), r.r11(), r.r12(), r.r13(), r.r14(), r.r15(), r.rip(), r.rflags()};
        for (int i = 0; i < v.length; i++) {
            m.set(ValueLayout.JAVA_LONG, offset(REGS, REG_NAMES[i]), v[i]);
        }
    }

    private static boolean flag(MemorySegment m, String field) {
        return m.get(ValueLayout.JAVA_BYTE, offset(SEGMENT, field)) != 0;
    }

    private static void flag(MemorySegment m, String field, boolean v) {
        m.set(ValueLayout.JAVA_BYTE, offset(SEGMENT, field), (byte) (v ? 1 : 0));
    }

    static Segment readSegment(MemorySegment m) {
        return new Segment(
                m.get(ValueLayout.JAVA_LONG, offset(SEGMENT, "base")),
                m.get(ValueLayout.JAVA_INT, offset(SEGMENT, "limit")),
                Short.toUnsignedInt(m.get(ValueLayout.JAVA_SHORT, offset(SEGMENT, "selector"))),
                m.get(ValueLayout.JAVA_BYTE, offset(SEGMENT, "type")) & 0xf,
                flag(m, "present"),
                m.get(ValueLayout.JAVA_BYTE, offset(SEGMENT, "dpl")) & 3,
                flag(m, "db"), flag(m, "s"), flag(m, "l"), flag(m, "g"), flag(m, "avl"), flag(m, "unusable"));
    }

    static void writeSegment(MemorySegment m, Segment s) {
        m.set(ValueLayout.JAVA_LONG, offset(SEGMENT, "base"), s.base());
        m.set(ValueLayout.JAVA_INT, offset(SEGMENT, "limit"), s.limit());
        m.set(ValueLayout.JAVA_SHORT, offset(SEGMENT, "selector"), (short) s.selector());
        m.set(ValueLayout.JAVA_BYTE, offset(SEGMENT, "type"), (byte) s.type());
        flag(m, "present", s.present());
        m.set(ValueLayout.JAVA_BYTE, offset(SEGMENT, "dpl"), (byte) s.dpl());
        flag(m, "db", s.db());
        flag(m, "s", s.s());
        flag(m, "l", s.l());
        flag(m, "g", s.g());
        flag(m, "avl", s.avl());
        flag(m, "unusable", s.unusable());
        m.set(ValueLayout.JAVA_BYTE, offset(SEGMENT, "padding"), (byte) 0);
    }

    static DescriptorTable readDtable(MemorySegment m) {
        return new DescriptorTable(m.get(ValueLayout.JAVA_LONG, offset(DTABLE, "base")),
                Short.toUnsignedInt(m.get(ValueLayout.JAVA_SHORT, offset(DTABLE, "limit"))));
    }

    static void writeDtable(MemorySegment m, DescriptorTable d) {
        m.fill((byte) 0);
        m.set(ValueLayout.JAVA_LONG, offset(DTABLE, "base"), d.base());
        m.set(ValueLayout.JAVA_SHORT, offset(DTABLE, "limit"), (short) d.limit());
    }

    private static MemorySegment field(MemorySegment m, String name) {
        return m.asSlice(offset(SREGS, name), SREGS.select(groupElement(name)).byteSize());
    }

    private static long longField(MemorySegment m, String name) {
        return m.get(ValueLayout.JAVA_LONG, offset(SREGS, name));
    }

    static Sregs readSregs(MemorySegment m) {
        long[] bitmap = new long[4];
        for (int i = 0; i < 4; i++) {
            bitmap[i] = m.get(ValueLayout.JAVA_LONG, offset(SREGS, "interrupt_bitmap") + 8L * i);
        }
        return new Sregs(readSegment(field(m, "cs")), readSegment(field(m, "ds")), readSegment(field(m, "es")),
                readSegment(field(m, "fs")), readSegment(field(m, "gs")), readSegment(field(m, "ss")),
                readSegment(field(m, "tr")), readSegment(field(m, "ldt")),
                readDtable(field(m, "gdt")), readDtable(field(m, "idt")),
                longField(m, "cr0"), longField(m, "cr2"), longField(m, "cr3"), longField(m, "cr4"),
                longField(m, "cr8"), longField(m, "efer"), longField(m, "apic_base"), bitmap);
    }

    static void writeSregs(MemorySegment m, Sregs s) {
        writeSegment(field(m, "cs"), s.cs());
        writeSegment(field(m, "ds"), s.ds());
        writeSegment(field(m, "es"), s.es());
        writeSegment(field(m, "fs"), s.fs());
        writeSegment(field(m, "gs"), s.gs());
        writeSegment(field(m, "ss"), s.ss());
        writeSegment(field(m, "tr"), s.tr());
        writeSegment(field(m, "ldt"), s.ldt());
        writeDtable(field(m, "gdt"), s.gdt());
        writeDtable(field(m, "idt"), s.idt());
        m.set(ValueLayout.JAVA_LONG, offset(SREGS, "cr0"), s.cr0());
        m.set(ValueLayout.JAVA_LONG, offset(SREGS, "cr2"), s.cr2());
        m.set(ValueLayout.JAVA_LONG, offset(SREGS, "cr3"), s.cr3());
        m.set(ValueLayout.JAVA_LONG, offset(SREGS, "cr4"), s.cr4());
        m.set(ValueLayout.JAVA_LONG, offset(SREGS, "cr8"), s.cr8());
        m.set(ValueLayout.JAVA_LONG, offset(SREGS, "efer"), s.efer());
        m.set(ValueLayout.JAVA_LONG, offset(SREGS, "apic_base"), s.apicBase());
        long[] bitmap = s.interruptBitmap();
        for (int i = 0; i < 4; i++) {
            m.set(ValueLayout.JAVA_LONG, offset(SREGS, "interrupt_bitmap") + 8L * i, bitmap[i]);
        }
    }

    private static int cpuidInt(MemorySegment m, String field) {
        return m.get(ValueLayout.JAVA_INT, offset(CPUID_ENTRY2, field));
    }

    static CpuidEntry readCpuidEntry(MemorySegment m) {
        return new CpuidEntry(cpuidInt(m, "function"), cpuidInt(m, "index"), cpuidInt(m, "flags"),
                cpuidInt(m, "eax"), cpuidInt(m, "ebx"), cpuidInt(m, "ecx"), cpuidInt(m, "edx"));
    }

    static void writeCpuidEntry(MemorySegment m, CpuidEntry e) {
        m.fill((byte) 0); // padding must be zero
        m.set(ValueLayout.JAVA_INT, offset(CPUID_ENTRY2, "function"), e.function());
        m.set(ValueLayout.JAVA_INT, offset(CPUID_ENTRY2, "index"), e.index());
        m.set(ValueLayout.JAVA_INT, offset(CPUID_ENTRY2, "flags"), e.flags());
        m.set(ValueLayout.JAVA_INT, offset(CPUID_ENTRY2, "eax"), e.eax());
        m.set(ValueLayout.JAVA_INT, offset(CPUID_ENTRY2, "ebx"), e.ebx());
        m.set(ValueLayout.JAVA_INT, offset(CPUID_ENTRY2, "ecx"), e.ecx());
        m.set(ValueLayout.JAVA_INT, offset(CPUID_ENTRY2, "edx"), e.edx());
    }
}
