package dev.ristretto.vmm.memory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Guest RAM: a fixed, sorted set of non-overlapping regions. Devices and firmware only ever see
 * guest addresses and bounds-checked slices; every access is checked at the moment it is made,
 * because the address usually came from the guest. An access may not straddle two regions (they
 * are separated by the MMIO hole, so a straddling access is a guest error anyway).
 *
 * <p>Lookups take no lock: the region list is immutable once built.
 */
public final class GuestMemory {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final GuestRegion[] regions;

    private GuestMemory(GuestRegion[] regions) {
        this.regions = regions;
    }

    /** Builds guest memory from regions; rejects empty lists and overlapping regions. */
    public static GuestMemory of(List<GuestRegion> regions) {
        if (regions.isEmpty()) {
            throw new IllegalArgumentException("guest memory needs at least one region");
        }
        List<GuestRegion> sorted = new ArrayList<>(regions);
        sorted.sort(Comparator.comparing(GuestRegion::start));
        for (int i = 1; i < sorted.size(); i++) {
            GuestRegion prev = sorted.get(i - 1);
            GuestRegion cur = sorted.get(i);
            if (cur.start().compareTo(prev.end()) < 0) {
                throw new IllegalArgumentException("guest memory regions overlap: " + prev.start() + "+"
                        + Long.toHexString(prev.size()) + " and " + cur.start());
            }
        }
        return new GuestMemory(sorted.toArray(GuestRegion[]::new));
    }

    public List<GuestRegion> regions() {
        return List.of(regions);
    }

    /** Total bytes of guest RAM. */
    public long totalSize() {
        long sum = 0;
        for (GuestRegion r : regions) {
            sum += r.size();
        }
        return sum;
    }

    /** The first address after the highest region. */
    public GuestAddress end() {
        return regions[regions.length - 1].end();
    }

    /** True when [addr, addr+len) lies entirely inside one region. */
    public boolean contains(GuestAddress addr, long len) {
        return find(addr, len) != null;
    }

    /** A view of [addr, addr+len) of guest RAM; throws {@link GuestMemoryException} when outside RAM. */
    public MemorySegment slice(GuestAddress addr, long len) {
        GuestRegion r = find(addr, len);
        if (r == null) {
            throw new GuestMemoryException("guest range " + addr + "+0x" + Long.toHexString(len)
                    + " is not inside guest RAM");
        }
        return r.segment().asSlice(addr.value() - r.start().value(), len);
    }

    private GuestRegion find(GuestAddress addr, long len) {
        if (len < 0) {
            return null;
        }
        int lo = 0;
        int hi = regions.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            GuestRegion r = regions[mid];
            if (addr.compareTo(r.start()) < 0) {
                hi = mid - 1;
            } else if (addr.compareTo(r.end()) >= 0) {
                lo = mid + 1;
            } else {
                return r.contains(addr, len) ? r : null;
            }
        }
        // A zero-length access exactly at a region's end is allowed (contains() accepts it).
        if (len == 0) {
            for (GuestRegion r : regions) {
                if (r.contains(addr, 0)) {
                    return r;
                }
            }
        }
        return null;
    }

    public byte readByte(GuestAddress addr) {
        return slice(addr, 1).get(ValueLayout.JAVA_BYTE, 0);
    }

    public short readShort(GuestAddress addr) {
        return slice(addr, 2).get(SHORT, 0);
    }

    public int readInt(GuestAddress addr) {
        return slice(addr, 4).get(INT, 0);
    }

    public long readLong(GuestAddress addr) {
        return slice(addr, 8).get(LONG, 0);
    }

    public void writeByte(GuestAddress addr, byte v) {
        slice(addr, 1).set(ValueLayout.JAVA_BYTE, 0, v);
    }

    public void writeShort(GuestAddress addr, short v) {
        slice(addr, 2).set(SHORT, 0, v);
    }

    public void writeInt(GuestAddress addr, int v) {
        slice(addr, 4).set(INT, 0, v);
    }

    public void writeLong(GuestAddress addr, long v) {
        slice(addr, 8).set(LONG, 0, v);
    }

    /** Copies {@code src} into guest RAM at {@code addr}. */
    public void write(GuestAddress addr, byte[] src) {
        MemorySegment.copy(src, 0, slice(addr, src.length), ValueLayout.JAVA_BYTE, 0, src.length);
    }

    /** Copies guest RAM at {@code addr} into {@code dst}. */
    public void read(GuestAddress addr, byte[] dst) {
        MemorySegment.copy(slice(addr, dst.length), ValueLayout.JAVA_BYTE, 0, dst, 0, dst.length);
    }

    /** Reads {@code len} bytes of guest RAM at {@code addr}. */
    public byte[] read(GuestAddress addr, int len) {
        byte[] out = new byte[len];
        read(addr, out);
        return out;
    }
}
