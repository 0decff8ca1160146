package dev.ristretto.firmware;

import dev.ristretto.vmm.memory.GuestAddress;
import java.util.Objects;

/** One contiguous range of guest RAM the machine must back with host memory (one KVM slot). */
public record RamRange(GuestAddress start, long size) {

    public RamRange {
        Objects.requireNonNull(start);
        if (size <= 0) {
            throw new IllegalArgumentException("RAM range at " + start + " has size " + size);
        }
        start.checkedAdd(size);
    }

    /** The first address after this range. */
    public GuestAddress end() {
        return start.checkedAdd(size);
    }
}
