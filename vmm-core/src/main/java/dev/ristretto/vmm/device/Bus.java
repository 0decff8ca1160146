package dev.ristretto.vmm.device;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * Maps non-overlapping address ranges (I/O ports or guest-physical MMIO) to devices. Built once
 * through {@link Builder}, which rejects overlaps; lookups are a lock-free binary search.
 *
 * <p>An access nobody claims is not fatal: reads return all-ones (what an ISA bus with no device
 * returns) and the access is counted, so a guest probing for hardware does not stop the VM.
 */
public final class Bus {

    /** One mapping: [base, base+length) goes to {@code device} with offsets from {@code base}. */
    public record Range(long base, long length, String name, BusDevice device) {
        public Range {
            if (length <= 0) {
                throw new IllegalArgumentException(name + ": empty bus range");
            }
            if (base + length < base && base + length != 0) {
                throw new IllegalArgumentException(name + ": bus range wraps around");
            }
        }

        long last() {
            return base + (length - 1);
        }

        boolean contains(long addr) {
            return Long.compareUnsigned(addr, base) >= 0 && Long.compareUnsigned(addr, last()) <= 0;
        }
    }

    private final String name;
    private final Range[] ranges;
    private final LongAdder unclaimedReads = new LongAdder();
    private final LongAdder unclaimedWrites = new LongAdder();

    private Bus(String name, Range[] ranges) {
        this.name = name;
        this.ranges = ranges;
    }

    public static Builder builder(String name) {
        return new Builder(name);
    }

    public String name() {
        return name;
    }

    public List<Range> ranges() {
        return List.of(ranges);
    }

    /** The mapping containing {@code addr}, or null. */
    public Range find(long addr) {
        int lo = 0;
        int hi = ranges.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            Range r = ranges[mid];
            if (Long.compareUnsigned(addr, r.base) < 0) {
                hi = mid - 1;
            } else if (Long.compareUnsigned(addr, r.last()) > 0) {
                lo = mid + 1;
            } else {
                return r;
            }
        }
        return null;
    }

    /**
     * Dispatches a read of {@code data.length} bytes at {@code addr}. Returns false (and fills
     * {@code data} with 0xff) when no device claims the address.
     */
    public boolean read(long addr, byte[] data) {
        Range r = find(addr);
        if (r == null) {
            Arrays.fill(data, (byte) 0xff);
            unclaimedReads.increment();
            return false;
        }
        r.device.read(addr - r.base, data);
        return true;
    }

    /** Dispatches a write at {@code addr}; returns false (and counts it) when nobody claims it. */
    public boolean write(long addr, byte[] data) {
        Range r = find(addr);
        if (r == null) {
            unclaimedWrites.increment();
            return false;
        }
        r.device.write(addr - r.base, data);
        return true;
    }

    public long unclaimedReads() {
        return unclaimedReads.sum();
    }

    public long unclaimedWrites() {
        return unclaimedWrites.sum();
    }

    /** Collects ranges; {@link #build()} sorts them and rejects any overlap. */
    public static final class Builder {
        private final String name;
        private final List<Range> ranges = new ArrayList<>();

        private Builder(String name) {
            this.name = name;
        }

        public Builder insert(long base, long length, String deviceName, BusDevice device) {
            Range candidate = new Range(base, length, deviceName, device);
            for (Range r : ranges) {
                boolean disjoint = Long.compareUnsigned(candidate.last(), r.base) < 0
                        || Long.compareUnsigned(candidate.base, r.last()) > 0;
                if (!disjoint) {
                    throw new IllegalArgumentException(name + " bus: " + deviceName + " at 0x"
                            + Long.toHexString(base) + "+0x" + Long.toHexString(length)
                            + " overlaps " + r.name + " at 0x" + Long.toHexString(r.base) + "+0x"
                            + Long.toHexString(r.length));
                }
            }
            ranges.add(candidate);
            return this;
        }

        public Bus build() {
            Range[] sorted = ranges.toArray(Range[]::new);
            Arrays.sort(sorted, (a, b) -> Long.compareUnsigned(a.base, b.base));
            return new Bus(name, sorted);
        }
    }
}
