package dev.ristretto.vmm.host;

import dev.ristretto.vmm.sys.Errno;
import dev.ristretto.vmm.sys.ErrnoException;
import dev.ristretto.vmm.sys.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A Linux eventfd (eventfd(2)): a 64-bit counter in the kernel that {@link #write} adds to and
 * {@link #read} takes and resets. KVM uses them in both directions: an ioeventfd is written by
 * KVM when the guest touches a doorbell address, an irqfd is read by KVM and injects an
 * interrupt (api.rst §4.59 KVM_IOEVENTFD, §4.75 KVM_IRQFD).
 *
 * <p>Always created with EFD_CLOEXEC, so a child process (passt) inherits none of them. Closing
 * does not unregister the fd from KVM: KVM holds its own reference. An irqfd stops when its fd is
 * closed (KVM sees the hang-up); an ioeventfd stays until it is deassigned or the VM goes away.
 */
public final class EventFd implements AutoCloseable {
    /** eventfd(2): write(2) of 0xffffffffffffffff fails with EINVAL; it is the counter's ceiling. */
    private static final long MAX_ADD = -2L; // 0xfffffffffffffffe unsigned

    private final int fd;
    private final boolean nonBlocking;
    private final AtomicBoolean closed = new AtomicBoolean();

    private EventFd(int fd, boolean nonBlocking) {
        this.fd = fd;
        this.nonBlocking = nonBlocking;
    }

    /** A blocking eventfd with a zero counter: {@link #read} waits until someone writes. */
    public static EventFd create() {
        return new EventFd(Libc.eventfd(0, Libc.EFD_CLOEXEC), false);
    }

    /** A non-blocking eventfd (EFD_NONBLOCK): {@link #read} answers 0 at once when nothing was written. */
    public static EventFd createNonBlocking() {
        return new EventFd(Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK), true);
    }

    /** The file descriptor, for epoll and the KVM ioctls. Throws once closed (the number may be reused). */
    public int fd() {
        if (closed.get()) {
            throw new IllegalStateException("eventfd " + fd + " is closed");
        }
        return fd;
    }

    public boolean isNonBlocking() {
        return nonBlocking;
    }

    /**
     * Adds {@code value} (unsigned, at most 0xfffffffffffffffe) to the counter and wakes readers.
     * A write that would overflow the counter blocks (blocking fd) or throws EAGAIN (non-blocking).
     */
    public void write(long value) {
        if (value == -1L) {
            throw new IllegalArgumentException("an eventfd cannot be incremented by 0xffffffffffffffff "
                    + "(eventfd(2)); the largest increment is 0x" + Long.toUnsignedString(MAX_ADD, 16));
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocateFrom(ValueLayout.JAVA_LONG, value);
            long n = Libc.write(fd(), buf);
            if (n != Long.BYTES) {
                throw new IllegalStateException("eventfd " + fd + ": short write of " + n + " bytes");
            }
        }
    }

    /**
     * Takes the counter and resets it to zero. Blocks while it is zero (blocking fd); a
     * non-blocking fd answers 0 instead — a successful read never returns 0, so 0 means "nothing".
     * The value is unsigned.
     */
    public long read() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG);
            long n;
            try {
                n = Libc.read(fd(), buf);
            } catch (ErrnoException e) {
                if (nonBlocking && e.errno() == Errno.EAGAIN) {
                    return 0;
                }
                throw e;
            }
            if (n != Long.BYTES) {
                throw new IllegalStateException("eventfd " + fd + ": short read of " + n + " bytes");
            }
            return buf.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    public boolean isClosed() {
        return closed.get();
    }

    /** Closes the fd; idempotent. A thread blocked in {@link #read} is not woken by it. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            Libc.close(fd);
        }
    }

    @Override
    public String toString() {
        return "EventFd[" + fd + (nonBlocking ? ", non-blocking" : "") + (closed.get() ? ", closed" : "") + "]";
    }
}
