package dev.ristretto.vmm.kvm;

import dev.ristretto.vmm.sys.ErrnoException;
import dev.ristretto.vmm.sys.Libc;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An open KVM file descriptor (system, VM or vCPU) and the ioctls on it. Turns libc's
 * {@link ErrnoException} into the exported {@link KvmException}, and refuses use after close
 * (a closed fd number may already belong to another file).
 */
abstract class Ioctl implements AutoCloseable {
    private final int fd;
    private final String what;
    private final AtomicBoolean closed = new AtomicBoolean();

    Ioctl(int fd, String what) {
        this.fd = fd;
        this.what = what;
    }

    final int fd() {
        if (closed.get()) {
            throw new IllegalStateException(what + " is closed");
        }
        return fd;
    }

    final int call(long request, String name, MemorySegment arg) {
        try {
            return Libc.ioctl(fd(), request, arg, name);
        } catch (ErrnoException e) {
            throw new KvmException(name, e.errno(), what + ": " + e.getMessage(), e);
        }
    }

    final int call(long request, String name, long arg) {
        try {
            return Libc.ioctl(fd(), request, arg, name);
        } catch (ErrnoException e) {
            throw new KvmException(name, e.errno(), what + ": " + e.getMessage(), e);
        }
    }

    final boolean isClosed() {
        return closed.get();
    }

    /** Releases what the subclass holds besides the fd (mappings); runs once, before close(fd). */
    void release() {
    }

    /** Closes the fd; idempotent. */
    @Override
    public final void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                release();
            } finally {
                Libc.close(fd);
            }
        }
    }
}
