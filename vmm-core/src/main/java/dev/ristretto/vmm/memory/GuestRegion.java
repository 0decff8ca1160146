package dev.ristretto.vmm.memory;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One contiguous range of guest RAM: guest-physical {@code start}, host memory {@code segment}.
 * The segment's size is the region's size.
 */
public record GuestRegion(GuestAddress start, MemorySegment segment) {

    public GuestRegion {
        Objects.requireNonNull(start);
        Objects.requireNonNull(segment);
        start.checkedAdd(segment.byteSize()); // the region itself must not wrap
    }

    public long size() {
        return segment.byteSize();
    }

    /** The first guest-physical address after this region (unsigned; may be 2^64 wrapped to 0 never). */
    public GuestAddress end() {
        return start.checkedAdd(segment.byteSize());
    }

    /** True when [addr, addr+len) lies entirely inside this region. */
    public boolean contains(GuestAddress addr, long len) {
        if (len < 0 || addr.compareTo(start) < 0) {
            return false;
        }
        long off = addr.value() - start.value();
        return Long.compareUnsigned(off, size()) <= 0 && Long.compareUnsigned(len, size() - off) <= 0;
    }
}
