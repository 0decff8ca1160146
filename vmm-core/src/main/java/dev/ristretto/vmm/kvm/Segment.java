package dev.ristretto.vmm.kvm;

/**
 * {@code struct kvm_segment}: a segment register's selector and its hidden descriptor cache
 * (Intel SDM vol 3 §3.4.2-3.4.5). Immutable; build variants with the {@code with…} copies.
 *
 * @param type     descriptor type field (4 bits; e.g. 0xb = execute/read, accessed)
 * @param s        1 for code/data segments, 0 for system segments (TSS, LDT)
 * @param db       default operation size (1 = 32-bit); must be 0 for a 64-bit code segment
 * @param l        64-bit code segment
 * @param g        granularity: limit in 4 KiB units
 * @param unusable the segment register holds a null selector (VMX "unusable" bit)
 */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl,
                      boolean db, boolean s, boolean l, boolean g, boolean avl, boolean unusable) {

    public Segment {
        checkBits("selector", selector, 16);
        checkBits("type", type, 4);
        checkBits("dpl", dpl, 2);
    }

    private static void checkBits(String name, int v, int bits) {
        if (v < 0 || v >= (1 << bits)) {
            throw new IllegalArgumentException("segment " + name + " " + v + " does not fit in " + bits + " bits");
        }
    }

    public Segment withBase(long v) {
        return new Segment(v, limit, selector, type, present, dpl, db, s, l, g, avl, unusable);
    }

    public Segment withLimit(int v) {
        return new Segment(base, v, selector, type, present, dpl, db, s, l, g, avl, unusable);
    }

    public Segment withSelector(int v) {
        return new Segment(base, limit, v, type, present, dpl, db, s, l, g, avl, unusable);
    }

    public Segment withType(int v) {
        return new Segment(base, limit, selector, v, present, dpl, db, s, l, g, avl, unusable);
    }

    public Segment withPresent(boolean v) {
        return new Segment(base, limit, selector, type, v, dpl, db, s, l, g, avl, unusable);
    }

    public Segment withDpl(int v) {
        return new Segment(base, limit, selector, type, present, v, db, s, l, g, avl, unusable);
    }

    public Segment withDb(boolean v) {
        return new Segment(base, limit, selector, type, present, dpl, v, s, l, g, avl, unusable);
    }

    public Segment withS(boolean v) {
        return new Segment(base, limit, selector, type, present, dpl, db, v, l, g, avl, unusable);
    }

    public Segment withL(boolean v) {
        return new Segment(base, limit, selector, type, present, dpl, db, s, v, g, avl, unusable);
    }

    public Segment withG(boolean v) {
        return new Segment(base, limit, selector, type, present, dpl, db, s, l, v, avl, unusable);
    }

    public Segment withAvl(boolean v) {
        return new Segment(base, limit, selector, type, present, dpl, db, s, l, g, v, unusable);
    }

    public Segment withUnusable(boolean v) {
        return new Segment(base, limit, selector, type, present, dpl, db, s, l, g, avl, v);
    }

    /**
     * The access-rights word in VMX/QEMU order (type | S<<4 | DPL<<5 | P<<7 | AVL<<12 | L<<13 |
     * D/B<<14 | G<<15), for diagnostics that look like QEMU's register dump.
     */
    public int attributes() {
        return type | (s ? 1 << 4 : 0) | dpl << 5 | (present ? 1 << 7 : 0) | (avl ? 1 << 12 : 0)
                | (l ? 1 << 13 : 0) | (db ? 1 << 14 : 0) | (g ? 1 << 15 : 0);
    }

    /**
     * The segment a GDT entry describes (Intel SDM vol 3 §3.4.5, Figure 3-8), loaded with
     * {@code selector}: what the CPU would put in the hidden part on a segment load.
     */
    public static Segment fromDescriptor(int selector, long descriptor) {
        long base = ((descriptor >>> 16) & 0xff_ffffL) | (((descriptor >>> 56) & 0xff) << 24);
        int rawLimit = (int) ((descriptor & 0xffff) | (((descriptor >>> 48) & 0xf) << 16));
        boolean g = ((descriptor >>> 55) & 1) != 0;
        // With G=1 the limit counts 4 KiB pages; KVM wants the byte limit.
        int limit = g ? (rawLimit << 12) | 0xfff : rawLimit;
        boolean present = ((descriptor >>> 47) & 1) != 0;
        return new Segment(base, limit, selector, (int) ((descriptor >>> 40) & 0xf), present,
                (int) ((descriptor >>> 45) & 3), ((descriptor >>> 54) & 1) != 0, ((descriptor >>> 44) & 1) != 0,
                ((descriptor >>> 53) & 1) != 0, g, ((descriptor >>> 52) & 1) != 0, !present);
    }
}
