package dev.ristretto.firmware.pvh;

import dev.ristretto.firmware.Gdt;
import dev.ristretto.firmware.Segment;
import dev.ristretto.vmm.memory.GuestAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The GDT for a PVH entry: the 64-bit boot GDT's layout and selectors ({@link Gdt}) with a flat
 * 32-bit code segment in the code slot, since the ABI enters 32-bit protected mode, and a TSS
 * descriptor with base 0 and limit 0x67 as the ABI asks of TR (Xen docs/misc/pvh.pandoc). The
 * data descriptor and the TSS descriptor are {@link Gdt}'s own: a busy TSS of type 0xb is the
 * 32-bit busy TSS outside IA-32e mode (Intel SDM Vol. 3A, "System-Segment and Gate-Descriptor
 * Types"), and the TSS descriptor's high half (base bits 63:32) is then simply a null slot.
 */
public final class PvhGdt {
    private PvhGdt() {
    }

    public static final int CODE32_SELECTOR = Gdt.CODE64_SELECTOR;
    public static final int DATA_SELECTOR = Gdt.DATA_SELECTOR;
    public static final int TSS_SELECTOR = Gdt.TSS_SELECTOR;

    /** Access byte of a present DPL-0 execute/read code segment, accessed (type 0xb). */
    private static final int ACCESS_CODE = 0x9b;
    /** Flags nibble: G (4 KiB granularity) and D (32-bit default operand size); L clear. */
    private static final int FLAGS_CODE32 = 0xc;

    /** The TSS base the ABI asks for. */
    static final GuestAddress TSS_BASE = GuestAddress.of(0);

    /** Flat 4 GiB 32-bit code segment: 0x00cf9b000000ffff. */
    public static long code32() {
        return Gdt.descriptor(0, 0xf_ffff, ACCESS_CODE, FLAGS_CODE32);
    }

    /** The six descriptor slots, in table order. */
    public static long[] entries() {
        long[] e = Gdt.entries(TSS_BASE);
        e[CODE32_SELECTOR / 8] = code32();
        return e;
    }

    /** The GDT as it lies in guest memory ({@link Gdt#SIZE} bytes, little-endian). */
    public static byte[] bytes() {
        ByteBuffer b = ByteBuffer.allocate(Gdt.SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (long e : entries()) {
            b.putLong(e);
        }
        return b.array();
    }

    /** CS after loading {@link #CODE32_SELECTOR}. */
    public static Segment codeSegment() {
        return Segment.fromDescriptor(CODE32_SELECTOR, code32());
    }

    /** DS/ES/FS/GS/SS after loading {@link #DATA_SELECTOR}. */
    public static Segment dataSegment() {
        return Gdt.dataSegment();
    }

    /** TR after loading {@link #TSS_SELECTOR}: base 0, limit 0x67, busy 32-bit TSS. */
    public static Segment taskSegment() {
        return Gdt.taskSegment(TSS_BASE);
    }
}
