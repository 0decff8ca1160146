package dev.ristretto.vmm.host;

import dev.ristretto.vmm.memory.GuestAddress;
import java.util.Objects;

/** One range of guest RAM to back with host memory: guest-physical {@code start}, {@code size} bytes. */
public record RamRange(GuestAddress start, long size) {
    public RamRange {
        Objects.requireNonNull(start);
        if (size <= 0) {
            throw new IllegalArgumentException("RAM range at " + start + " has size " + size + "; it must be positive");
        }
        start.checkedAdd(size); // must not wrap past 2^64
    }
}
