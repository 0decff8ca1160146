package dev.ristretto.vmm.host;

import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.memory.GuestRegion;
import dev.ristretto.vmm.memory.RamRange;
import dev.ristretto.vmm.sys.Errno;
import dev.ristretto.vmm.sys.ErrnoException;
import dev.ristretto.vmm.sys.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Host memory backing guest RAM: one anonymous private mapping per {@link RamRange}.
 *
 * <p>{@code mmap(MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE)} reserves address space only; pages are
 * committed when the guest first touches them, so a 4 GiB guest that uses 200 MiB costs 200 MiB.
 * ({@code Arena.allocate} would zero-fill and so commit everything.) The mappings are tied to a
 * shared arena: {@link #close()} invalidates every segment handed out (a late access throws
 * instead of touching unmapped memory) and unmaps them.
 */
public final class HostMemory implements AutoCloseable {
    /** KVM memory slots and mmap both work in 4 KiB pages (api.rst §4.35). */
    public static final long PAGE_SIZE = 4096;

    private final Arena arena;
    private final GuestMemory guestMemory;
    private final AtomicBoolean closed = new AtomicBoolean();

    private HostMemory(Arena arena, GuestMemory guestMemory) {
        this.arena = arena;
        this.guestMemory = guestMemory;
    }

    /** Maps one host region per range; throws {@link HostMemoryException} when the host refuses. */
    @SuppressWarnings("restricted") // reinterpret: the size is exactly what mmap just mapped
    public static HostMemory mapAnonymous(List<RamRange> ranges) {
        if (ranges.isEmpty()) {
            throw new IllegalArgumentException("guest RAM needs at least one range");
        }
        for (RamRange r : ranges) {
            if (!r.start().isAligned(PAGE_SIZE) || r.size() % PAGE_SIZE != 0) {
                throw new IllegalArgumentException("RAM range at " + r.start() + " of 0x" + Long.toHexString(r.size())
                        + " bytes is not 4 KiB-aligned; KVM memory slots must be");
            }
        }
        Arena arena = Arena.ofShared();
        try {
            List<GuestRegion> regions = new ArrayList<>(ranges.size());
            for (RamRange r : ranges) {
                MemorySegment addr;
                try {
                    addr = Libc.mmap(r.size(), Libc.PROT_READ | Libc.PROT_WRITE,
                            Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0, "guest RAM");
                } catch (ErrnoException e) {
                    throw new HostMemoryException(mapFailure(r, ranges, e.errno()), e);
                }
                long size = r.size();
                regions.add(new GuestRegion(r.start(), addr.reinterpret(size, arena, seg -> Libc.munmap(seg, size))));
            }
            return new HostMemory(arena, GuestMemory.of(regions));
        } catch (RuntimeException e) {
            arena.close(); // unmaps whatever was mapped before the failure
            throw e;
        }
    }

    private static String mapFailure(RamRange r, List<RamRange> all, int errno) {
        long total = all.stream().mapToLong(RamRange::size).sum();
        String what = "cannot map " + mib(r.size()) + " of guest RAM at " + r.start() + " (" + mib(total)
                + " in all): " + Libc.strerror(errno);
        if (errno == Errno.ENOMEM) {
            return what + "; give the guest less memory, or raise the host's limits (ulimit -v for the "
                    + "address space; with vm.overcommit_memory=2, vm.overcommit_ratio or free memory)";
        }
        return what + " (errno " + errno + ")";
    }

    private static String mib(long bytes) {
        return bytes % (1 << 20) == 0 ? (bytes >> 20) + " MiB" : bytes + " bytes";
    }

    /** The guest's view of this memory (regions in guest-physical order). */
    public GuestMemory guestMemory() {
        return guestMemory;
    }

    /** Unmaps every region; segments obtained from {@link #guestMemory()} become inaccessible. Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }
}
