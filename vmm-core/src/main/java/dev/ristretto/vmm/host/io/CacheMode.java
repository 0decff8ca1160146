package dev.ristretto.vmm.host.io;

/** How a disk image uses the host page cache ({@code --disk …,cache=}). */
public enum CacheMode {
    /** Through the page cache; flush requests reach the disk with fdatasync. The default. */
    WRITEBACK,
    /**
     * O_DIRECT: aligned transfers bypass the page cache (the guest has its own cache, so the host's
     * would hold a second copy). Flush still calls fdatasync, for the disk's volatile write cache.
     */
    NONE
}
