package dev.ristretto.devices.pci;

/**
 * One base address register of a device: which BAR, what it decodes and how large it is
 * (PCI Local Bus 3.0 §6.2.5.1). A 64-bit memory BAR also occupies register {@code index + 1}.
 */
public record PciBar(int index, Kind kind, long size, boolean prefetchable) {

    /** The three BAR types Linux and every firmware know. */
    public enum Kind {
        /** Memory space, decoded anywhere in the low 4 GiB (type 00b). */
        MEMORY32,
        /** Memory space, decoded anywhere in 64-bit space (type 10b, two registers). */
        MEMORY64,
        /** I/O space (bit 0 set). */
        IO
    }

    public PciBar {
        int last = kind == Kind.MEMORY64 ? index + 1 : index;
        if (index < 0 || last > 5) {
            throw new IllegalArgumentException("BAR " + index + " (" + kind + ") does not fit in BAR0-BAR5");
        }
        // §6.2.5.1: sizes are powers of two; memory BARs decode at least 16 bytes, I/O BARs at
        // least 4 and at most 256.
        long min = kind == Kind.IO ? 4 : 16;
        long max = switch (kind) {
            case IO -> 256;
            case MEMORY32 -> 1L << 31;
            case MEMORY64 -> 1L << 62;
        };
        if (Long.bitCount(size) != 1 || size < min || size > max) {
            throw new IllegalArgumentException("BAR " + index + " size 0x" + Long.toHexString(size)
                    + " is not a power of two between " + min + " and 0x" + Long.toHexString(max));
        }
        if (prefetchable && kind == Kind.IO) {
            throw new IllegalArgumentException("BAR " + index + ": I/O BARs cannot be prefetchable");
        }
    }

    /** True for memory-space BARs. */
    public boolean isMemory() {
        return kind != Kind.IO;
    }
}
