package dev.ristretto.vmm.memory;

/**
 * A guest-physical address. Arithmetic is checked: an address never silently wraps past 2^64
 * (unsigned) or below zero, because every such number may come from a hostile guest.
 */
public record GuestAddress(long value) implements Comparable<GuestAddress> {

    public static GuestAddress of(long value) {
        return new GuestAddress(value);
    }

    /** This address plus {@code offset} (unsigned); throws when the sum passes 2^64. */
    public GuestAddress checkedAdd(long offset) {
        if (offset < 0) {
            throw new ArithmeticException("negative offset " + offset + " added to " + this);
        }
        long sum = value + offset;
        if (Long.compareUnsigned(sum, value) < 0) {
            throw new ArithmeticException(this + " + 0x" + Long.toHexString(offset) + " overflows");
        }
        return new GuestAddress(sum);
    }

    /** The unsigned distance from {@code base} to this address; throws when this is below base. */
    public long offsetFrom(GuestAddress base) {
        if (Long.compareUnsigned(value, base.value) < 0) {
            throw new ArithmeticException(this + " is below " + base);
        }
        return value - base.value;
    }

    /** True when this address is a multiple of {@code alignment} (a power of two). */
    public boolean isAligned(long alignment) {
        return (value & (alignment - 1)) == 0;
    }

    /** This address rounded up to {@code alignment} (a power of two), checked. */
    public GuestAddress alignUp(long alignment) {
        if (Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment " + alignment + " is not a power of two");
        }
        long mask = alignment - 1;
        return checkedAdd((alignment - (value & mask)) & mask);
    }

    @Override
    public int compareTo(GuestAddress o) {
        return Long.compareUnsigned(value, o.value);
    }

    @Override
    public String toString() {
        return "0x" + Long.toHexString(value);
    }
}
