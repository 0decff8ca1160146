package dev.ristretto.firmware.acpi;

/**
 * Resource data descriptors for {@code _CRS} (ACPI 6.5 §6.4) and the ResourceTemplate buffer that
 * holds them. Small descriptors start with a tag byte {@code 0b0nnnnlll} (item name n, length l,
 * §6.4.2); large ones with {@code 0b1nnnnnnn} and a 16-bit length (§6.4.3).
 */
public final class AmlResource {

    /** Memory attribute of an address space descriptor: _MEM, bits 2-1 (§6.4.3.5.5). */
    public enum Cacheability {
        NON_CACHEABLE(0), CACHEABLE(1), WRITE_COMBINING(2), PREFETCHABLE(3);

        final int bits;

        Cacheability(int bits) {
            this.bits = bits;
        }
    }

    /** Address space descriptor widths: Word §6.4.3.5.3, DWord §6.4.3.5.2, QWord §6.4.3.5.1. */
    public enum Width {
        WORD(0x88, 2, 0xffffL), DWORD(0x87, 4, 0xffff_ffffL), QWORD(0x8a, 8, -1L);

        final int tag;
        final int bytes;
        final long max;

        Width(int tag, int bytes, long max) {
            this.tag = tag;
            this.bytes = bytes;
            this.max = max;
        }
    }

    /** Resource Type field of an address space descriptor (§6.4.3.5.1). */
    public enum Space {
        MEMORY(0), IO(1), BUS_NUMBER(2);

        final int code;

        Space(int code) {
            this.code = code;
        }
    }

    /** I/O type-specific flags: _RNG = 3, the window covers ISA and non-ISA ports (§6.4.3.5.5). */
    public static final int IO_ENTIRE_RANGE = 0x03;
    // General flags, §6.4.3.5.1: bit 3 _MAF (max fixed), bit 2 _MIF (min fixed), bit 1 _DEC (0 =
    // positive decode), bit 0 0 = producer and consumer (a bridge's window), 1 = consumer only.
    private static final int MIN_MAX_FIXED_PRODUCER = 0x0c;

    private AmlResource() {
    }

    /**
     * A ResourceTemplate: a Buffer of the descriptors followed by the End Tag (§6.4.2.9, tag 0x79)
     * whose checksum byte makes the whole template sum to zero. (A zero checksum would also be
     * accepted as "none"; a real one costs nothing and lets a test check the sum.)
     */
    public static byte[] template(byte[]... descriptors) {
        byte[] body = Bytes.concat(Bytes.concat(descriptors), new byte[] {0x79, 0});
        body[body.length - 1] = Bytes.checksum(body, 0, body.length);
        return Aml.buffer(body);
    }

    /**
     * I/O port descriptor (§6.4.2.5, small item 0x08, length 7, tag 0x47) with 16-bit decode:
     * information byte bit 0 = 1 (_DEC), minimum and maximum base, alignment, length.
     */
    public static byte[] io(int minBase, int maxBase, int alignment, int length) {
        check16("IO minimum base", minBase);
        check16("IO maximum base", maxBase);
        check8("IO alignment", alignment);
        check8("IO length", length);
        return new Bytes.Writer().u8(0x47).u8(0x01).u16(minBase).u16(maxBase).u8(alignment)
                .u8(length).toByteArray();
    }

    /**
     * Fixed location I/O port descriptor (§6.4.2.6, small item 0x09, length 3, tag 0x4B): a
     * 10-bit ISA base and a length.
     */
    public static byte[] fixedIo(int base, int length) {
        if (base < 0 || base > 0x3ff) {
            throw new AmlException("FixedIO base 0x" + Integer.toHexString(base) + " does not fit"
                    + " the 10-bit ISA decode of this descriptor (ACPI 6.5 §6.4.2.6); use io().");
        }
        check8("FixedIO length", length);
        return new Bytes.Writer().u8(0x4b).u16(base).u8(length).toByteArray();
    }

    /**
     * IRQ descriptor without the information byte (§6.4.2.1, small item 0x04, length 2, tag
     * 0x22): a 16-bit mask of ISA IRQs, implying edge-triggered, active-high, exclusive, which is
     * how ISA devices such as the 8250 UART signal.
     */
    public static byte[] irqNoFlags(int... irqs) {
        return new Bytes.Writer().u8(0x22).u16(irqMask(irqs)).toByteArray();
    }

    /**
     * IRQ descriptor with the information byte (§6.4.2.1, length 3, tag 0x23): bit 0 _HE (1 =
     * edge), bit 3 _LL (1 = active low), bit 4 _SHR (shared).
     */
    public static byte[] irq(boolean edge, boolean activeLow, boolean shared, int... irqs) {
        int info = (edge ? 0x01 : 0) | (activeLow ? 0x08 : 0) | (shared ? 0x10 : 0);
        return new Bytes.Writer().u8(0x23).u16(irqMask(irqs)).u8(info).toByteArray();
    }

    /**
     * Extended Interrupt descriptor (§6.4.3.6, large item 0x09, tag 0x89) for GSIs beyond the ISA
     * range: flags bit 0 consumer, bit 1 _HE (edge), bit 2 _LL (active low), bit 3 _SHR; then the
     * count and 32-bit interrupt numbers. No ResourceSource is emitted.
     */
    public static byte[] extendedInterrupt(boolean consumer, boolean edge, boolean activeLow,
            boolean shared, long... interrupts) {
        if (interrupts.length == 0 || interrupts.length > 255) {
            throw new AmlException("Extended Interrupt descriptor lists " + interrupts.length
                    + " interrupts; it holds 1 to 255 (ACPI 6.5 §6.4.3.6).");
        }
        int flags = (consumer ? 0x01 : 0) | (edge ? 0x02 : 0) | (activeLow ? 0x04 : 0)
                | (shared ? 0x08 : 0);
        Bytes.Writer w = new Bytes.Writer().u8(0x89).u16(2 + 4 * interrupts.length).u8(flags)
                .u8(interrupts.length);
        for (long i : interrupts) {
            if (i < 0 || i > 0xffff_ffffL) {
                throw new AmlException("interrupt " + i + " does not fit 32 bits.");
            }
            w.u32(i);
        }
        return w.toByteArray();
    }

    /** WordBusNumber: a bridge's bus-number window [min, max] (§6.4.3.5.3, tag 0x88). */
    public static byte[] wordBusNumber(int min, int max) {
        return addressSpace(Width.WORD, Space.BUS_NUMBER, 0, min, max);
    }

    /**
     * WordIO: a bridge's I/O window [min, max] (§6.4.3.5.3, tag 0x88); type-specific flags 0x03
     * = _RNG "entire range" (ISA and non-ISA ports, §6.4.3.5.5, I/O Resource Flag).
     */
    public static byte[] wordIo(int min, int max) {
        return addressSpace(Width.WORD, Space.IO, IO_ENTIRE_RANGE, min, max);
    }

    /** DWordMemory: a bridge's 32-bit memory window [min, max] (§6.4.3.5.2, tag 0x87). */
    public static byte[] dwordMemory(Cacheability cacheability, boolean writable, long min,
            long max) {
        return addressSpace(Width.DWORD, Space.MEMORY, memoryFlags(cacheability, writable), min,
                max);
    }

    /** QWordMemory: a bridge's 64-bit memory window [min, max] (§6.4.3.5.1, tag 0x8A). */
    public static byte[] qwordMemory(Cacheability cacheability, boolean writable, long min,
            long max) {
        return addressSpace(Width.QWORD, Space.MEMORY, memoryFlags(cacheability, writable), min,
                max);
    }

    /**
     * Any fixed bridge window: a {@code width} address space descriptor of resource type
     * {@code space} with the raw type-specific flags byte (§6.4.3.5.5; for memory use
     * {@link #memoryFlags}, for I/O {@link #IO_ENTIRE_RANGE}, for bus numbers 0), produced by
     * the device (a bridge), min and max fixed, positive decode, no translation.
     */
    public static byte[] addressSpace(Width width, Space space, int typeSpecificFlags, long min,
            long max) {
        check8("type-specific flags", typeSpecificFlags);
        checkWindow(width + " " + space + " address space", min, max, width.max);
        return addressSpace(width.tag, width.bytes, space.code, typeSpecificFlags, min, max);
    }

    /** Memory type-specific flags (§6.4.3.5.5): bit 0 _RW (1 = read/write), bits 2-1 _MEM. */
    public static int memoryFlags(Cacheability cacheability, boolean writable) {
        return (writable ? 0x01 : 0) | (cacheability.bits << 1);
    }

    /**
     * The shared layout of the QWord/DWord/Word address space descriptors (§6.4.3.5.1-3): tag,
     * length (of what follows the length field), resource type, general flags, type-specific
     * flags, then granularity, minimum, maximum, translation offset and length, each
     * {@code width} bytes. Granularity and translation are 0: the window is decoded 1:1 and is
     * fixed: min and max fixed, so the length must equal max - min + 1 (§6.4.3.5, "Valid
     * combination of Address Space Descriptor fields").
     */
    private static byte[] addressSpace(int tag, int width, int resourceType, int typeFlags,
            long min, long max) {
        Bytes.Writer w = new Bytes.Writer().u8(tag).u16(3 + 5 * width).u8(resourceType)
                .u8(MIN_MAX_FIXED_PRODUCER).u8(typeFlags);
        w.bytes(Bytes.le(0, width));            // _GRA
        w.bytes(Bytes.le(min, width));          // _MIN
        w.bytes(Bytes.le(max, width));          // _MAX
        w.bytes(Bytes.le(0, width));            // _TRA
        w.bytes(Bytes.le(max - min + 1, width)); // _LEN
        return w.toByteArray();
    }

    /**
     * The window must be non-empty, end within the descriptor's width, and have a length that
     * fits _LEN: a Word window 0-0xFFFF is 0x10000 long, which two bytes cannot hold.
     */
    private static void checkWindow(String what, long min, long max, long limit) {
        long length = max - min + 1;
        boolean fits = Long.compareUnsigned(min, max) <= 0
                && Long.compareUnsigned(max, limit) <= 0
                && length != 0
                && Long.compareUnsigned(length, limit) <= 0;
        if (!fits) {
            throw new AmlException(what + " window 0x" + Long.toHexString(min) + "-0x"
                    + Long.toHexString(max) + " is empty or its end or length does not fit the"
                    + " descriptor; use a wider descriptor or a smaller window.");
        }
    }

    private static int irqMask(int... irqs) {
        int mask = 0;
        for (int irq : irqs) {
            if (irq < 0 || irq > 15) {
                throw new AmlException("IRQ " + irq + " is not an ISA IRQ 0-15; use"
                        + " extendedInterrupt() (ACPI 6.5 §6.4.2.1).");
            }
            mask |= 1 << irq;
        }
        return mask;
    }

    private static void check8(String what, int v) {
        if (v < 0 || v > 0xff) {
            throw new AmlException(what + " " + v + " does not fit one byte.");
        }
    }

    private static void check16(String what, int v) {
        if (v < 0 || v > 0xffff) {
            throw new AmlException(what + " 0x" + Integer.toHexString(v)
                    + " does not fit 16 bits.");
        }
    }
}
