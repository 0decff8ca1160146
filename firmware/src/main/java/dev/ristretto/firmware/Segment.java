package dev.ristretto.firmware;

/**
 * A segment register's full (hidden) state as the vCPU must hold it, independent of KVM's
 * struct kvm_segment; the machine maps it field by field. Field meanings follow the segment
 * descriptor (Intel SDM Vol. 3A §3.4.5, "Segment Descriptors").
 *
 * @param base     linear base address
 * @param limit    the effective limit in bytes, already scaled by granularity (0xffffffff for a
 *                 flat 4 GiB segment with g set) — the form struct kvm_segment expects
 * @param selector the selector value loaded into the visible part of the register
 * @param type     the 4-bit type field (0xb: execute/read code, accessed; 0x3: read/write data,
 *                 accessed; 0xb with s clear: busy 64-bit TSS)
 * @param present  P bit
 * @param dpl      descriptor privilege level, 0..3
 * @param db       D/B bit (default operation size; must be clear for 64-bit code)
 * @param s        S bit: code/data (true) or system (false) descriptor
 * @param l        L bit: 64-bit code segment
 * @param g        G bit: limit counted in 4 KiB units
 * @param avl      AVL bit, free for software
 */
public record Segment(long base, long limit, int selector, int type, boolean present, int dpl, boolean db, boolean s,
                      boolean l, boolean g, boolean avl) {

    public Segment {
        if (Long.compareUnsigned(limit, 0xffff_ffffL) > 0) {
            throw new IllegalArgumentException("segment limit 0x" + Long.toHexString(limit) + " exceeds 32 bits");
        }
        if ((selector & ~0xffff) != 0 || (type & ~0xf) != 0 || (dpl & ~3) != 0) {
            throw new IllegalArgumentException("bad segment selector/type/dpl: " + selector + "/" + type + "/" + dpl);
        }
    }

    /**
     * Decodes an 8-byte code or data descriptor (or the low half of a system descriptor, whose
     * base bits 63:32 are then zero) into the register state selecting it with {@code selector}
     * yields.
     */
    public static Segment fromDescriptor(int selector, long d) {
        long base = ((d >>> 16) & 0xff_ffffL) | (((d >>> 56) & 0xff) << 24);
        long rawLimit = (d & 0xffff) | (((d >>> 48) & 0xf) << 16);
        boolean g = bit(d, 55);
        long limit = g ? (rawLimit << 12) | 0xfff : rawLimit;
        return new Segment(base, limit, selector, (int) ((d >>> 40) & 0xf), bit(d, 47), (int) ((d >>> 45) & 3),
                bit(d, 54), bit(d, 44), bit(d, 53), g, bit(d, 52));
    }

    private static boolean bit(long v, int bit) {
        return ((v >>> bit) & 1) != 0;
    }
}
