package dev.ristretto.vmm.kvm;

import java.util.Arrays;
import java.util.Objects;

/**
 * {@code struct kvm_sregs}: segment registers, descriptor tables, control registers, EFER and
 * the APIC base. Obtain it with {@link VcpuFd#getSregs()} and change what a boot protocol needs
 * with the {@code with…} copies, so fields the kernel set up (apic_base, the interrupt bitmap)
 * are written back unchanged.
 *
 * @param interruptBitmap pending external interrupt (at most one bit set, api.rst §4.13); kept
 *                        as the 4 words KVM returned
 */
public record Sregs(Segment cs, Segment ds, Segment es, Segment fs, Segment gs, Segment ss,
                    Segment tr, Segment ldt, DescriptorTable gdt, DescriptorTable idt,
                    long cr0, long cr2, long cr3, long cr4, long cr8, long efer, long apicBase,
                    long[] interruptBitmap) {

    public static final long CR0_PE = 1L;
    public static final long CR0_MP = 1L << 1;
    public static final long CR0_ET = 1L << 4;
    public static final long CR0_NE = 1L << 5;
    public static final long CR0_PG = 1L << 31;
    public static final long CR4_PAE = 1L << 5;
    public static final long CR4_OSFXSR = 1L << 9;
    public static final long CR4_OSXMMEXCPT = 1L << 10;
    public static final long EFER_SCE = 1L;
    public static final long EFER_LME = 1L << 8;
    public static final long EFER_LMA = 1L << 10;

    public Sregs {
        Objects.requireNonNull(cs);
        Objects.requireNonNull(ds);
        Objects.requireNonNull(es);
        Objects.requireNonNull(fs);
        Objects.requireNonNull(gs);
        Objects.requireNonNull(ss);
        Objects.requireNonNull(tr);
        Objects.requireNonNull(ldt);
        Objects.requireNonNull(gdt);
        Objects.requireNonNull(idt);
        if (interruptBitmap.length != 4) {
            throw new IllegalArgumentException("interrupt bitmap has " + interruptBitmap.length + " words, not 4");
        }
        interruptBitmap = interruptBitmap.clone();
    }

    @Override
    public long[] interruptBitmap() {
        return interruptBitmap.clone();
    }

    /** Records compare arrays by identity; two register sets are equal when their contents are. */
    @Override
    public boolean equals(Object o) {
        return o instanceof Sregs x && cs.equals(x.cs) && ds.equals(x.ds) && es.equals(x.es) && fs.equals(x.fs)
                && gs.equals(x.gs) && ss.equals(x.ss) && tr.equals(x.tr) && ldt.equals(x.ldt) && gdt.equals(x.gdt)
                && idt.equals(x.idt) && cr0 == x.cr0 && cr2 == x.cr2 && cr3 == x.cr3 && cr4 == x.cr4 && cr8 == x.cr8
                && efer == x.efer && apicBase == x.apicBase && Arrays.equals(interruptBitmap, x.interruptBitmap);
    }

    @Override
    public int hashCode() {
        return Objects.hash(cs, ds, es, fs, gs, ss, tr, ldt, gdt, idt, cr0, cr2, cr3, cr4, cr8, efer, apicBase,
                Arrays.hashCode(interruptBitmap));
    }

    @Override
    public String toString() {
        return "Sregs[cs=" + cs + ", ds=" + ds + ", es=" + es + ", fs=" + fs + ", gs=" + gs + ", ss=" + ss + ", tr=" + tr
                + ", ldt=" + ldt + ", gdt=" + gdt + ", idt=" + idt + String.format(", cr0=%x, cr2=%x, cr3=%x, cr4=%x, cr8=%x, "
                + "efer=%x, apicBase=%x, interruptBitmap=", cr0, cr2, cr3, cr4, cr8, efer, apicBase)
                + Arrays.toString(interruptBitmap) + "]";
    }

    /** True in IA-32e mode: EFER.LMA, set by KVM when paging is enabled with EFER.LME. */
    public boolean longMode() {
        return (efer & EFER_LMA) != 0;
    }

    /** Loads every data segment register (DS, ES, FS, GS, SS) with {@code seg}. */
    public Sregs withDataSegments(Segment seg) {
        return new Sregs(cs, seg, seg, seg, seg, seg, tr, ldt, gdt, idt, cr0, cr2, cr3, cr4, cr8, efer, apicBase, interruptBitmap);
    }

    public Sregs withCs(Segment v) {
        return new Sregs(v, ds, es, fs, gs, ss, tr, ldt, gdt, idt, cr0, cr2, cr3, cr4, cr8, efer, apicBase, interruptBitmap);
    }

    public Sregs withDs(Segment v) {
        return new Sregs(cs, v, es, fs, gs, ss, tr, ldt, gdt, idt, cr0, cr2, cr3, cr4, cr8, efer, apicBase, interruptBitmap);
    }

    public Sregs withEs(Segment v) {
        return new Sregs(cs, ds, v, fs, gs, ss, tr, ldt, gdt, idt, cr0, cr2, cr3, cr4, cr8, efer, apicBase, interruptBitmap);
    }

    public Sregs withSs(Segment v) {
        return new Sregs(cs, ds, es, fs, gs, v, tr, ldt, gdt, idt, cr0, cr2, cr3, cr4, cr8, efer, apicBase, interruptBitmap);
    }

    public Sregs withTr(Segment v) {
        return new Sregs(cs, ds, es, fs, gs, ss, v, ldt, gdt, idt, cr0, cr2, cr3, cr4, cr8, efer, apicBase, interruptBitmap);
    }

    public Sregs withLdt(Segment v) {
        return new Sregs(cs, ds, es, fs, gs, ss, tr, v, gdt, idt, cr0, cr2, cr3, cr4, cr8, efer, apicBase, interruptBitmap);
    }

    public Sregs withGdt(DescriptorTable v) {
        return new Sregs(cs, ds, es, fs, gs, ss, tr, ldt, v, idt, cr0, cr2, cr3, cr4, cr8, efer, apicBase, interruptBitmap);
    }

    public Sregs withIdt(DescriptorTable v) {
        return new Sregs(cs, ds, es, fs, gs, ss, tr, ldt, gdt, v, cr0, cr2, cr3, cr4, cr8, efer, apicBase, interruptBitmap);
    }

    public Sregs withCr0(long v) {
        return new Sregs(cs, ds, es, fs, gs, ss, tr, ldt, gdt, idt, v, cr2, cr3, cr4, cr8, efer, apicBase, interruptBitmap);
    }

    public Sregs withCr3(long v) {
        return new Sregs(cs, ds, es, fs, gs, ss, tr, ldt, gdt, idt, cr0, cr2, v, cr4, cr8, efer, apicBase, interruptBitmap);
    }

    public Sregs withCr4(long v) {
        return new Sregs(cs, ds, es, fs, gs, ss, tr, ldt, gdt, idt, cr0, cr2, cr3, v, cr8, efer, apicBase, interruptBitmap);
    }

    public Sregs withEfer(long v) {
        return new Sregs(cs, ds, es, fs, gs, ss, tr, ldt, gdt, idt, cr0, cr2, cr3, cr4, cr8, v, apicBase, interruptBitmap);
    }
}
