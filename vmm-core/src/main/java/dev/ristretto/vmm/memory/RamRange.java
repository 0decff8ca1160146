package dev.ristretto.vmm.memory;

import java.util.Objects;

/**
 * One contiguous range of guest RAM: guest-physical {@code start}, {@code size} bytes. The memory
 * layout (firmware) produces them and the host side backs each with one mapping and one KVM slot.
 */
public record RamRange(GuestAddress start, long size) {

    public RamRange {
        Objects.requireNonNull(start);
        if (size <= 0) {
            throw new IllegalArgumentException("RAM range at " + start + " has size " + size + "; it must be positive");
        }
        start.checkedAdd(size); // must not wrap past 2^64
    }

    /** The first address after this range. */
    public GuestAddress end() {
        return start.checkedAdd(size);
    }
}
