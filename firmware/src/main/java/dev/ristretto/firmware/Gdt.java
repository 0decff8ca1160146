package dev.ristretto.firmware;

import dev.ristretto.vmm.memory.GuestAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The boot GDT, as pure functions. boot.rst "64-bit BOOT PROTOCOL" requires a GDT with flat 4 GiB
 * descriptors at __BOOT_CS (0x10, execute/read) and __BOOT_DS (0x18, read/write), the selectors
 * Linux's own boot GDT uses (arch/x86/include/asm/segment.h, GDT_ENTRY_BOOT_CS = 2). Entry 1 stays
 * null like entry 0. Entries 4–5 hold a 16-byte 64-bit TSS descriptor, because VM entry needs a
 * usable TR (see {@link Layout#BOOT_TSS}).
 *
 * <p>Descriptor bit layout: Intel SDM Vol. 3A §3.4.5 "Segment Descriptors" and, for the
 * 16-byte TSS descriptor in IA-32e mode, "TSS Descriptor in 64-bit mode" (Task Management chapter).
 */
public final class Gdt {
    private Gdt() {
    }

    public static final int CODE64_SELECTOR = 0x10;
    public static final int DATA_SELECTOR = 0x18;
    public static final int TSS_SELECTOR = 0x20;

    /** Number of 8-byte slots: null, null, code64, data, and two for the TSS descriptor. */
    public static final int SLOTS = 6;
    public static final int SIZE = SLOTS * 8;

    // Access byte: P (bit 7), DPL (bits 6:5), S (bit 4), type (bits 3:0).
    private static final int ACCESS_CODE = 0x9b; // P, DPL 0, S, type 0xb: execute/read, accessed
    private static final int ACCESS_DATA = 0x93; // P, DPL 0, S, type 0x3: read/write, accessed
    private static final int ACCESS_TSS = 0x8b;  // P, DPL 0, system, type 0xb: busy 64-bit TSS
    // Flags nibble: G (bit 3), D/B (bit 2), L (bit 1), AVL (bit 0).
    private static final int FLAGS_CODE64 = 0xa; // G, L (D/B must be clear when L is set)
    private static final int FLAGS_DATA = 0xc;   // G, D/B (32-bit stack for the flat segment)

    /** Encodes an 8-byte segment descriptor from its base, 20-bit raw limit, access byte and flags. */
    public static long descriptor(long base, long limit20, int access, int flags) {
        if ((base & ~0xffff_ffffL) != 0 || (limit20 & ~0xf_ffffL) != 0 || (access & ~0xff) != 0 || (flags & ~0xf) != 0) {
            throw new IllegalArgumentException("descriptor field out of range");
        }
        return (limit20 & 0xffff)
                | (base & 0xff_ffffL) << 16
                | (long) access << 40
                | ((limit20 >>> 16) & 0xf) << 48
                | (long) flags << 52
                | ((base >>> 24) & 0xff) << 56;
    }

    /** Flat 64-bit code segment: 0x00af9b000000ffff. */
    public static long code64() {
        return descriptor(0, 0xf_ffff, ACCESS_CODE, FLAGS_CODE64);
    }

    /** Flat 4 GiB read/write data segment: 0x00cf93000000ffff. */
    public static long data() {
        return descriptor(0, 0xf_ffff, ACCESS_DATA, FLAGS_DATA);
    }

    /** Low 8 bytes of the 16-byte busy 64-bit TSS descriptor for a TSS at {@code base}. */
    public static long tssLow(GuestAddress base) {
        return descriptor(base.value() & 0xffff_ffffL, Layout.BOOT_TSS_SIZE - 1, ACCESS_TSS, 0);
    }

    /** High 8 bytes of the TSS descriptor: base bits 63:32, the rest reserved zero. */
    public static long tssHigh(GuestAddress base) {
        return base.value() >>> 32;
    }

    /** The six descriptor slots, in table order. */
    public static long[] entries(GuestAddress tss) {
        return new long[] {0, 0, code64(), data(), tssLow(tss), tssHigh(tss)};
    }

    /** The GDT as it lies in guest memory (48 bytes, little-endian). */
    public static byte[] bytes(GuestAddress tss) {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (long e : entries(tss)) {
            b.putLong(e);
        }
        return b.array();
    }

    /** GDTR value for the table at {@code base}. */
    public static DescriptorTable register(GuestAddress base) {
        return new DescriptorTable(base, SIZE - 1);
    }

    /** The CS state after loading {@link #CODE64_SELECTOR}. */
    public static Segment codeSegment() {
        return Segment.fromDescriptor(CODE64_SELECTOR, code64());
    }

    /** The DS/ES/SS/FS/GS state after loading {@link #DATA_SELECTOR}. */
    public static Segment dataSegment() {
        return Segment.fromDescriptor(DATA_SELECTOR, data());
    }

    /** The TR state after loading {@link #TSS_SELECTOR} for a TSS at {@code tss}. */
    public static Segment taskSegment(GuestAddress tss) {
        Segment low = Segment.fromDescriptor(TSS_SELECTOR, tssLow(tss));
        return new Segment(tss.value(), low.limit(), TSS_SELECTOR, low.type(), low.present(), low.dpl(), low.db(),
                low.s(), low.l(), low.g(), low.avl());
    }
}
