package dev.ristretto.vmm.host.io;

import dev.ristretto.vmm.sys.Errno;
import dev.ristretto.vmm.sys.ErrnoException;
import dev.ristretto.vmm.sys.Libc;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A raw disk image (a regular file or a block device) opened for a virtio-blk device: byte-exact
 * transfers between the image and native memory (slices of guest RAM), flush, discard and
 * write-zeroes (VIRTIO 1.2 §5.2.6).
 *
 * <p><b>Checks before the guest starts.</b> {@link #open} refuses, with one sentence naming the
 * path and the fix: a missing path, anything but a regular file or block device, an image this
 * user cannot read (or write, unless read-only), an empty image, a size that is not a multiple of
 * 512 (virtio-blk counts capacity in 512-byte sectors, §5.2.4) and an image locked by another
 * process.
 *
 * <p><b>Locking.</b> A writable image takes an OFD write lock over the whole file, a read-only one
 * an OFD read lock (fcntl(2) "Open file description locks"): two VMs writing one image corrupt it,
 * and one VM reading an image another writes sees torn data. OFD locks belong to the open file
 * description, not the process, so they also conflict between two opens in one process, and they
 * are released when the description is closed (including when the process dies). When the lock is
 * held the error names the holder found through /proc/locks ({@link ProcLocks}).
 *
 * <p><b>cache=none.</b> With {@link CacheMode#NONE} the image is opened with O_DIRECT, which needs
 * the memory address, the file offset and the length aligned to the device's logical block size.
 * We require {@value #DIRECT_ALIGNMENT} bytes, which covers 512- and 4096-byte devices; guest RAM is
 * page-aligned and Linux guests issue page-sized requests, so almost every transfer qualifies.
 * The rest (a 512-byte request, a heap segment) go through a second, buffered descriptor of the same
 * file. The two views stay coherent because Linux writes back and invalidates the page-cache range
 * before every O_DIRECT transfer (mm/filemap.c, kiocb_write_and_wait / kiocb_invalidate_pages), and
 * fdatasync covers the file, not one descriptor.
 *
 * <p>Not thread-safe: one device worker thread uses it (the BlockBackend contract).
 */
public final class RawImage implements AutoCloseable {
    /** virtio-blk's sector (VIRTIO 1.2 §5.2.4: capacity is in 512-byte sectors). */
    public static final int SECTOR_SIZE = 512;
    /** Alignment for O_DIRECT transfers: the largest logical block size in common use. */
    public static final int DIRECT_ALIGNMENT = 4096;
    /** Bounce and zero buffers: large enough to keep syscalls few, small enough to keep around. */
    private static final int CHUNK = 1 << 20;

    private static final int S_IFMT = 0170000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFBLK = 0060000;

    private final Path path;
    private final boolean readOnly;
    private final CacheMode cache;
    private final long size;
    /** The locked descriptor; O_DIRECT when cache=none. */
    private final int fd;
    /** Buffered descriptor for unaligned transfers under cache=none; equals {@link #fd} otherwise. */
    private final int bufferedFd;
    private final Arena arena = Arena.ofShared();
    /** Zeroes for write-zeroes and discard fallbacks, and the bounce buffer (aligned for O_DIRECT). */
    private MemorySegment zeroes;
    private MemorySegment bounce;
    private boolean punchHoleUnsupported;
    private boolean zeroRangeUnsupported;
    private boolean closed;

    private RawImage(Path path, boolean readOnly, CacheMode cache, long size, int fd, int bufferedFd) {
        this.path = path;
        this.readOnly = readOnly;
        this.cache = cache;
        this.size = size;
        this.fd = fd;
        this.bufferedFd = bufferedFd;
    }

    /**
     * Opens and locks {@code path}. Throws {@link DiskImageException} (message: one sentence with the
     * path and the fix) for every problem a user can cause.
     */
    public static RawImage open(Path path, boolean readOnly, CacheMode cache) {
        String p = path.toString();
        if (!Files.exists(path)) {
            throw new DiskImageException("disk image " + p + " does not exist: check the path given to --disk"
                    + " (create an empty image with: truncate -s 1G " + p + ")");
        }
        int mode;
        try {
            mode = (Integer) Files.getAttribute(path, "unix:mode");
        } catch (IOException | UnsupportedOperationException e) {
            throw new DiskImageException("disk image " + p + " cannot be examined (" + e.getMessage()
                    + "): check the path and its directories' permissions", e);
        }
        int type = mode & S_IFMT;
        if (type != S_IFREG && type != S_IFBLK) {
            throw new DiskImageException("disk image " + p + " is " + kind(path)
                    + ", not a regular file or block device: give --disk a raw image file");
        }
        int flags = (readOnly ? Libc.O_RDONLY : Libc.O_RDWR) | Libc.O_CLOEXEC;
        int fd = openChecked(path, flags | (cache == CacheMode.NONE ? Libc.O_DIRECT : 0), readOnly, cache);
        int bufferedFd = fd;
        boolean ok = false;
        try {
            long size = Libc.lseek(fd, 0, Libc.SEEK_END);
            if (size == 0) {
                throw new DiskImageException("disk image " + p + " is empty (0 bytes): give it a size, e.g. truncate -s 1G "
                        + p);
            }
            if (size % SECTOR_SIZE != 0) {
                long rounded = (size / SECTOR_SIZE + 1) * SECTOR_SIZE;
                throw new DiskImageException("disk image " + p + " is " + size + " bytes, not a multiple of "
                        + SECTOR_SIZE + ": pad it with truncate -s " + rounded + " " + p);
            }
            lock(fd, path, readOnly);
            if (cache == CacheMode.NONE) {
                bufferedFd = openChecked(path, flags, readOnly, CacheMode.WRITEBACK);
            }
            RawImage image = new RawImage(path, readOnly, cache, size, fd, bufferedFd);
            ok = true;
            return image;
        } finally {
            if (!ok) {
                Libc.close(fd); // also drops the lock, if taken
                if (bufferedFd != fd) {
                    Libc.close(bufferedFd);
                }
            }
        }
    }

    private static String kind(Path path) {
        if (Files.isDirectory(path)) {
            return "a directory";
        }
        return "a special file (character device, FIFO or socket)";
    }

    private static int openChecked(Path path, int flags, boolean readOnly, CacheMode cache) {
        String p = path.toString();
        try {
            return Libc.open(p, flags);
        } catch (ErrnoException e) {
            String msg = switch (e.errno()) {
                case Errno.EACCES, Errno.EPERM -> readOnly
                        ? "disk image " + p + " is not readable by this user: allow it with chmod u+r " + p
                                + " (or run as a user who may read it)"
                        : "disk image " + p + " is not writable by this user: allow it with chmod u+rw " + p
                                + ", or add ,ro to --disk to use it read-only";
                case Errno.EROFS -> "disk image " + p + " is on a read-only file system: add ,ro to --disk";
                case Errno.EINVAL -> cache == CacheMode.NONE
                        ? "disk image " + p + " is on a file system without O_DIRECT support: use cache=writeback"
                        : "disk image " + p + " cannot be opened (" + Libc.strerror(e.errno()) + ")";
                case Errno.ENOENT -> "disk image " + p + " does not exist: check the path given to --disk";
                default -> "disk image " + p + " cannot be opened (" + Libc.strerror(e.errno())
                        + "): check the file and its permissions";
            };
            throw new DiskImageException(msg, e);
        }
    }

    /** OFD lock over the whole file: write lock for read-write, read lock for read-only. */
    private static void lock(int fd, Path path, boolean readOnly) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fl = a.allocate(Libc.FLOCK_SIZE, 8); // zeroed: l_whence SEEK_SET, l_start 0,
            fl.set(ValueLayout.JAVA_SHORT, Libc.FLOCK_TYPE_OFFSET, readOnly ? Libc.F_RDLCK : Libc.F_WRLCK);
            // l_len 0 means "to the end of the file, however far it grows"; l_pid must be 0 for OFD locks.
            try {
                Libc.fcntl(fd, Libc.F_OFD_SETLK, fl);
            } catch (ErrnoException e) {
                if (e.errno() == Errno.EAGAIN || e.errno() == Errno.EACCES) {
                    throw new DiskImageException("disk image " + path + " is locked by " + ProcLocks.describeHolder(path)
                            + (readOnly ? ", which is writing it" : "")
                            + ": stop that VM first, or give each VM its own copy of the image", e);
                }
                throw new DiskImageException("disk image " + path + " cannot be locked (" + Libc.strerror(e.errno())
                        + "): put it on a file system that supports OFD locks", e);
            }
        }
    }

    public Path path() {
        return path;
    }

    public long sizeBytes() {
        return size;
    }

    public boolean readOnly() {
        return readOnly;
    }

    public CacheMode cacheMode() {
        return cache;
    }

    /** Fills {@code dst} from the image at {@code offset}; the whole range must lie inside the image. */
    public void read(long offset, MemorySegment dst) throws IOException {
        checkRange("read", offset, dst.byteSize());
        if (!dst.isNative()) {
            bounced(offset, dst, false);
            return;
        }
        transfer(fdFor(dst, offset, dst.byteSize()), offset, dst, false);
    }

    /** Writes all of {@code src} at {@code offset}; refused on a read-only image. */
    public void write(long offset, MemorySegment src) throws IOException {
        checkWritable("write");
        checkRange("write", offset, src.byteSize());
        if (!src.isNative()) {
            bounced(offset, src, true);
            return;
        }
        transfer(fdFor(src, offset, src.byteSize()), offset, src, true);
    }

    /** fdatasync: every write completed before this call is on stable storage when it returns. */
    public void flush() throws IOException {
        checkOpen();
        if (readOnly) {
            return; // nothing of ours to make durable
        }
        try {
            retryingEintr(() -> Libc.fdatasync(fd));
        } catch (ErrnoException e) {
            throw new IOException("disk image " + path + ": " + e.getMessage(), e);
        }
    }

    /**
     * Deallocates [offset, offset+length) (PUNCH_HOLE|KEEP_SIZE). Where the file system cannot punch
     * holes (EOPNOTSUPP) the range is overwritten with zeroes instead: VIRTIO 1.2 §5.2.6.2 lets a
     * discarded range read back as anything, and zeroes are what a punched hole reads as.
     */
    public void discard(long offset, long length) throws IOException {
        checkWritable("discard");
        checkRange("discard", offset, length);
        if (length == 0) {
            return;
        }
        if (!punchHoleUnsupported && tryFallocate(Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, offset, length)) {
            return;
        }
        punchHoleUnsupported = true;
        writeZeroBytes(offset, length);
    }

    /**
     * Makes [offset, offset+length) read as zeroes (VIRTIO_BLK_T_WRITE_ZEROES): ZERO_RANGE, else
     * PUNCH_HOLE (a hole reads as zeroes), else writing zeroes.
     */
    public void writeZeroes(long offset, long length) throws IOException {
        checkWritable("write-zeroes");
        checkRange("write-zeroes", offset, length);
        if (length == 0) {
            return;
        }
        int keep = Libc.FALLOC_FL_KEEP_SIZE;
        if (!zeroRangeUnsupported && tryFallocate(Libc.FALLOC_FL_ZERO_RANGE | keep, offset, length)) {
            return;
        }
        zeroRangeUnsupported = true;
        if (!punchHoleUnsupported && tryFallocate(Libc.FALLOC_FL_PUNCH_HOLE | keep, offset, length)) {
            return;
        }
        punchHoleUnsupported = true;
        writeZeroBytes(offset, length);
    }

    /** True when fallocate did it; false when the file system does not support the mode. */
    private boolean tryFallocate(int mode, long offset, long length) throws IOException {
        try {
            retryingEintr(() -> Libc.fallocate(fd, mode, offset, length));
            return true;
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EOPNOTSUPP) {
                return false;
            }
            throw new IOException("disk image " + path + ": " + e.getMessage(), e);
        }
    }

    private void writeZeroBytes(long offset, long length) throws IOException {
        if (zeroes == null) {
            zeroes = arena.allocate(CHUNK, DIRECT_ALIGNMENT);
        }
        long done = 0;
        while (done < length) {
            long n = Math.min(CHUNK, length - done);
            MemorySegment chunk = zeroes.asSlice(0, n);
            transfer(fdFor(chunk, offset + done, n), offset + done, chunk, true);
            done += n;
        }
    }

    /** Heap segments cannot be handed to a syscall: copy through a native, aligned buffer. */
    private void bounced(long offset, MemorySegment heap, boolean write) throws IOException {
        if (bounce == null) {
            bounce = arena.allocate(CHUNK, DIRECT_ALIGNMENT);
        }
        long done = 0;
        while (done < heap.byteSize()) {
            long n = Math.min(CHUNK, heap.byteSize() - done);
            MemorySegment b = bounce.asSlice(0, n);
            if (write) {
                b.copyFrom(heap.asSlice(done, n));
                transfer(fdFor(b, offset + done, n), offset + done, b, true);
            } else {
                transfer(fdFor(b, offset + done, n), offset + done, b, false);
                heap.asSlice(done, n).copyFrom(b);
            }
            done += n;
        }
    }

    /** The O_DIRECT descriptor when address, offset and length are all aligned; else the buffered one. */
    private int fdFor(MemorySegment seg, long offset, long length) {
        if (cache == CacheMode.NONE && seg.address() % DIRECT_ALIGNMENT == 0 && offset % DIRECT_ALIGNMENT == 0
                && length % DIRECT_ALIGNMENT == 0) {
            return fd;
        }
        return bufferedFd;
    }

    /** pread/pwrite until the whole segment is done: short transfers continue, EINTR retries. */
    private void transfer(int file, long offset, MemorySegment seg, boolean write) throws IOException {
        long done = 0;
        long length = seg.byteSize();
        while (done < length) {
            MemorySegment rest = seg.asSlice(done);
            long n;
            try {
                n = write ? Libc.pwrite(file, rest, offset + done) : Libc.pread(file, rest, offset + done);
            } catch (ErrnoException e) {
                if (e.errno() == Errno.EINTR) {
                    continue;
                }
                throw new IOException("disk image " + path + ": " + (write ? "write" : "read") + " of " + length
                        + " bytes at " + offset + " failed: " + Libc.strerror(e.errno()), e);
            }
            if (n == 0) {
                // A file shrunk behind our back (we checked the range against the size at open).
                throw new IOException("disk image " + path + ": unexpected end of file at " + (offset + done)
                        + " (was the image truncated while in use?)");
            }
            done += n;
        }
    }

    private void checkRange(String op, long offset, long length) throws IOException {
        checkOpen();
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new IOException("disk image " + path + ": " + op + " of " + length + " bytes at " + offset
                    + " lies outside the image (" + size + " bytes)");
        }
    }

    private void checkWritable(String op) throws IOException {
        checkOpen();
        if (readOnly) {
            throw new IOException("disk image " + path + " is read-only: " + op + " refused");
        }
    }

    private void checkOpen() throws IOException {
        if (closed) {
            throw new IOException("disk image " + path + " is closed");
        }
    }

    private interface Call {
        void run();
    }

    private static void retryingEintr(Call call) {
        while (true) {
            try {
                call.run();
                return;
            } catch (ErrnoException e) {
                if (e.errno() != Errno.EINTR) {
                    throw e;
                }
            }
        }
    }

    /** Closes the descriptors, which releases the lock. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (bufferedFd != fd) {
                Libc.close(bufferedFd);
            }
            Libc.close(fd);
        } finally {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "RawImage[" + path + ", " + size + " bytes" + (readOnly ? ", ro" : "") + ", cache="
                + cache.name().toLowerCase(java.util.Locale.ROOT) + "]";
    }
}
