package dev.ristretto.vmm.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The libc calls the VMM needs, bound with the Foreign Function &amp; Memory API. Every call that
 * reports failure through errno captures it at the call ({@code Linker.Option.captureCallState}):
 * reading errno later would see whatever the JVM did in between. Failures throw
 * {@link ErrnoException}; methods return only on success.
 *
 * <p>No downcall is {@code critical}: KVM_RUN blocks for as long as the guest runs and must be
 * interruptible by a signal while the JVM carries on (safepoints, GC) around it.
 */
@SuppressWarnings("restricted")
public final class Libc {
    // fcntl.h / bits/mman-linux.h / termios.h values for x86-64 Linux (checked against the C
    // headers by LibcHeaderTest).
    public static final int O_RDWR = 0x2;
    public static final int O_CLOEXEC = 0x80000;
    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int MAP_SHARED = 0x1;
    public static final int MAP_PRIVATE = 0x2;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int EFD_CLOEXEC = 0x80000;
    public static final int EFD_NONBLOCK = 0x800;
    public static final int TCSANOW = 0;
    // sys/epoll.h (checked by LibcHeaderTest).
    public static final int EPOLL_CLOEXEC = 0x80000;
    public static final int EPOLLIN = 0x1;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;

    /**
     * x86-64 {@code struct epoll_event} is packed (glibc declares it {@code __EPOLL_PACKED} on
     * x86-64 so the layout matches the 32-bit kernel ABI): events (u32) at 0, data (u64) at 4,
     * 12 bytes in all. Getting this wrong would read each event's data 4 bytes off.
     */
    public static final long EPOLL_EVENT_SIZE = 12;
    public static final long EPOLL_EVENT_EVENTS_OFFSET = 0;
    public static final long EPOLL_EVENT_DATA_OFFSET = 4;

    /** glibc's {@code struct termios} on x86-64: 4 flag words, c_line, c_cc[32], 2 speeds. */
    public static final long TERMIOS_SIZE = 60;

    /**
     * glibc's x86-64 {@code struct sigaction}: handler at 0, sa_mask (128 bytes) at 8, sa_flags
     * at 136, sa_restorer at 144; 152 bytes in all. glibc's sigaction() fills sa_restorer.
     */
    public static final long SIGACTION_SIZE = 152;
    public static final long SIGACTION_HANDLER_OFFSET = 0;
    public static final long SIGACTION_MASK_OFFSET = 8;
    public static final long SIGACTION_FLAGS_OFFSET = 136;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    /** One errno capture buffer per thread, so concurrent vCPU threads never share one. */
    private static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    private static final MethodHandle OPEN = errnoHandle("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = errnoHandle("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    // ioctl(int fd, unsigned long request, ...): the third argument is variadic, so it must be
    // passed the way the C ABI passes variadic arguments (firstVariadicArg(2)).
    private static final MethodHandle IOCTL_PTR = errnoHandle("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle IOCTL_LONG = errnoHandle("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle MMAP = errnoHandle("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = errnoHandle("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle EVENTFD = errnoHandle("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle READ = errnoHandle("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = errnoHandle("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle SIGACTION = errnoHandle("sigaction", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle TCGETATTR = errnoHandle("tcgetattr", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle TCSETATTR = errnoHandle("tcsetattr", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle ISATTY = errnoHandle("isatty", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle EPOLL_CREATE1 = errnoHandle("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle EPOLL_CTL = errnoHandle("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle EPOLL_WAIT = errnoHandle("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    // pthread_* return the error number instead of setting errno.
    private static final MethodHandle PTHREAD_SELF = handle("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle PTHREAD_KILL = handle("pthread_kill", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle CFMAKERAW = handle("cfmakeraw", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle STRERROR = handle("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    // glibc reserves the first real-time signals for itself (NPTL); SIGRTMIN is a function call.
    private static final MethodHandle SIGRTMIN = handle("__libc_current_sigrtmin", FunctionDescriptor.of(JAVA_INT));

    private Libc() {
    }

    private static MemorySegment symbol(String name) {
        return LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
    }

    private static MethodHandle handle(String name, FunctionDescriptor fd, Linker.Option... options) {
        return LINKER.downcallHandle(symbol(name), fd, options);
    }

    private static MethodHandle errnoHandle(String name, FunctionDescriptor fd, Linker.Option... options) {
        Linker.Option[] all = new Linker.Option[options.length + 1];
        all[0] = CAPTURE_ERRNO;
        System.arraycopy(options, 0, all, 1, options.length);
        return LINKER.downcallHandle(symbol(name), fd, all);
    }

    private static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** Wraps an unexpected Throwable from invokeExact (the handles never throw checked exceptions). */
    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException re) {
            return re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    private static int checkInt(String call, int ret, MemorySegment capture) {
        if (ret == -1) {
            throw new ErrnoException(call, errno(capture));
        }
        return ret;
    }

    /** open(path, flags); returns the fd. */
    public static int open(String path, int flags) {
        MemorySegment capture = CAPTURE.get();
        try (Arena arena = Arena.ofConfined()) {
            int ret = (int) OPEN.invokeExact(capture, arena.allocateFrom(path), flags, 0);
            return checkInt("open(" + path + ")", ret, capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void close(int fd) {
        MemorySegment capture = CAPTURE.get();
        try {
            checkInt("close(" + fd + ")", (int) CLOSE.invokeExact(capture, fd), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * ioctl(fd, request, arg) with a pointer argument; {@code name} names the request in errors.
     * Returns the ioctl's non-negative result.
     */
    public static int ioctl(int fd, long request, MemorySegment arg, String name) {
        MemorySegment capture = CAPTURE.get();
        try {
            return checkInt("ioctl(" + name + ")", (int) IOCTL_PTR.invokeExact(capture, fd, request, arg), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** ioctl(fd, request, arg) with an integer argument (or 0 for requests that take none). */
    public static int ioctl(int fd, long request, long arg, String name) {
        MemorySegment capture = CAPTURE.get();
        try {
            return checkInt("ioctl(" + name + ")", (int) IOCTL_LONG.invokeExact(capture, fd, request, arg), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * ioctl without an exception: returns the result, or {@code -errno} on failure. For KVM_RUN,
     * whose EINTR is an ordinary outcome (a kick), not an error.
     */
    public static int ioctlRaw(int fd, long request, long arg) {
        MemorySegment capture = CAPTURE.get();
        try {
            int ret = (int) IOCTL_LONG.invokeExact(capture, fd, request, arg);
            return ret == -1 ? -errno(capture) : ret;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** mmap(NULL, length, prot, flags, fd, offset); returns a zero-length segment at the mapping's address. */
    public static MemorySegment mmap(long length, int prot, int flags, int fd, long offset, String what) {
        MemorySegment capture = CAPTURE.get();
        try {
            MemorySegment addr = (MemorySegment) MMAP.invokeExact(capture, MemorySegment.NULL, length, prot, flags, fd, offset);
            if (addr.address() == -1L) { // MAP_FAILED
                throw new ErrnoException("mmap(" + what + ", " + length + " bytes)", errno(capture));
            }
            return addr;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void munmap(MemorySegment addr, long length) {
        MemorySegment capture = CAPTURE.get();
        try {
            checkInt("munmap", (int) MUNMAP.invokeExact(capture, addr, length), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int eventfd(int initval, int flags) {
        MemorySegment capture = CAPTURE.get();
        try {
            return checkInt("eventfd", (int) EVENTFD.invokeExact(capture, initval, flags), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** read(fd, buf, buf.byteSize()); returns the byte count (0 at end of file). */
    public static long read(int fd, MemorySegment buf) {
        MemorySegment capture = CAPTURE.get();
        try {
            long ret = (long) READ.invokeExact(capture, fd, buf, buf.byteSize());
            if (ret == -1) {
                throw new ErrnoException("read(" + fd + ")", errno(capture));
            }
            return ret;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** write(fd, buf, buf.byteSize()); returns the byte count written. */
    public static long write(int fd, MemorySegment buf) {
        MemorySegment capture = CAPTURE.get();
        try {
            long ret = (long) WRITE.invokeExact(capture, fd, buf, buf.byteSize());
            if (ret == -1) {
                throw new ErrnoException("write(" + fd + ")", errno(capture));
            }
            return ret;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The calling thread's pthread_t. */
    public static long pthreadSelf() {
        try {
            return (long) PTHREAD_SELF.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** pthread_kill(thread, sig); {@code thread} must still be alive (the caller guarantees it). */
    public static void pthreadKill(long thread, int sig) {
        try {
            int err = (int) PTHREAD_KILL.invokeExact(thread, sig);
            if (err != 0) {
                throw new ErrnoException("pthread_kill(signal " + sig + ")", err);
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** sigaction(sig, act, oldact); {@code oldact} may be {@link MemorySegment#NULL}. */
    public static void sigaction(int sig, MemorySegment act, MemorySegment oldact) {
        MemorySegment capture = CAPTURE.get();
        try {
            checkInt("sigaction(" + sig + ")", (int) SIGACTION.invokeExact(capture, sig, act, oldact), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** glibc's SIGRTMIN (34 with NPTL, which takes 32 and 33). */
    public static int sigrtmin() {
        try {
            return (int) SIGRTMIN.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The address of a libc function, e.g. {@code getpid} used as a do-nothing signal handler. */
    public static MemorySegment functionAddress(String name) {
        return symbol(name);
    }

    public static void tcgetattr(int fd, MemorySegment termios) {
        MemorySegment capture = CAPTURE.get();
        try {
            checkInt("tcgetattr(" + fd + ")", (int) TCGETATTR.invokeExact(capture, fd, termios), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void tcsetattr(int fd, int action, MemorySegment termios) {
        MemorySegment capture = CAPTURE.get();
        try {
            checkInt("tcsetattr(" + fd + ")", (int) TCSETATTR.invokeExact(capture, fd, action, termios), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** cfmakeraw(termios): the flag changes glibc documents for raw mode, applied in memory only. */
    public static void cfmakeraw(MemorySegment termios) {
        try {
            CFMAKERAW.invokeExact(termios);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** True when fd refers to a terminal; false for anything else (ENOTTY, EBADF). */
    public static boolean isatty(int fd) {
        MemorySegment capture = CAPTURE.get();
        try {
            return (int) ISATTY.invokeExact(capture, fd) == 1;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The message glibc gives for errno (glibc's strerror returns static text for known values). */
    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            return s.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** epoll_create1(flags); returns the epoll fd. */
    public static int epollCreate1(int flags) {
        MemorySegment capture = CAPTURE.get();
        try {
            return checkInt("epoll_create1", (int) EPOLL_CREATE1.invokeExact(capture, flags), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * epoll_ctl(epfd, op, fd, event): {@code event} is one {@link #EPOLL_EVENT_SIZE}-byte
     * epoll_event ({@link MemorySegment#NULL} is allowed for EPOLL_CTL_DEL).
     */
    public static void epollCtl(int epfd, int op, int fd, MemorySegment event) {
        MemorySegment capture = CAPTURE.get();
        try {
            checkInt("epoll_ctl(" + epfd + ", op " + op + ", fd " + fd + ")",
                    (int) EPOLL_CTL.invokeExact(capture, epfd, op, fd, event), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * epoll_wait(epfd, events, events.byteSize() / 12, timeoutMillis); returns the number of
     * ready events written to {@code events}. EINTR (a signal) is thrown like any errno: the
     * caller decides whether to wait again.
     */
    public static int epollWait(int epfd, MemorySegment events, int timeoutMillis) {
        int max = (int) (events.byteSize() / EPOLL_EVENT_SIZE);
        if (max < 1) {
            throw new IllegalArgumentException("epoll_wait needs room for at least one event, got "
                    + events.byteSize() + " bytes");
        }
        MemorySegment capture = CAPTURE.get();
        try {
            return checkInt("epoll_wait(" + epfd + ")", (int) EPOLL_WAIT.invokeExact(capture, epfd, events, max, timeoutMillis),
                    capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- Files, polling and TAP (host backends for virtio-blk and virtio-net, issue #5) ----
    // Values for x86-64 Linux from fcntl.h, linux/falloc.h, poll.h, linux/if_tun.h, net/if.h;
    // LibcHeaderTest checks every one against the C headers.

    public static final int O_RDONLY = 0x0;
    public static final int O_NONBLOCK = 0x800;
    /** Bypass the page cache (open(2) "O_DIRECT"): buffer, offset and length must be aligned. */
    public static final int O_DIRECT = 0x4000;
    public static final int SEEK_END = 2;
    /** Open file description locks (fcntl(2) "Open file description locks (non-POSIX)"). */
    public static final int F_OFD_GETLK = 36;
    public static final int F_OFD_SETLK = 37;
    public static final short F_RDLCK = 0;
    public static final short F_WRLCK = 1;
    public static final short F_UNLCK = 2;
    /** glibc's x86-64 {@code struct flock}: l_type, l_whence (shorts), l_start, l_len, l_pid. */
    public static final long FLOCK_SIZE = 32;
    public static final long FLOCK_TYPE_OFFSET = 0;
    public static final long FLOCK_WHENCE_OFFSET = 2;
    public static final long FLOCK_START_OFFSET = 8;
    public static final long FLOCK_LEN_OFFSET = 16;
    public static final long FLOCK_PID_OFFSET = 24;
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    public static final int FALLOC_FL_ZERO_RANGE = 0x10;
    public static final short POLLIN = 0x1;
    public static final short POLLOUT = 0x4;
    /** {@code struct pollfd}: int fd, short events, short revents. */
    public static final long POLLFD_SIZE = 8;
    /** _IOW('T', 202, int) in linux/if_tun.h. */
    public static final long TUNSETIFF = 0x400454caL;
    public static final short IFF_TAP = 0x0002;
    public static final short IFF_NO_PI = 0x1000;
    public static final int IFNAMSIZ = 16;
    /** {@code struct ifreq}: the name (IFNAMSIZ bytes) then a union whose ifr_flags is a short. */
    public static final long IFREQ_SIZE = 40;
    public static final long IFREQ_FLAGS_OFFSET = 16;
    public static final int CLONE_NEWNET = 0x40000000;

    private static final MethodHandle PREAD = errnoHandle("pread", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE = errnoHandle("pwrite", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle LSEEK = errnoHandle("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle FDATASYNC = errnoHandle("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FALLOCATE = errnoHandle("fallocate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    // fcntl(int fd, int cmd, ...): the lock argument is variadic.
    private static final MethodHandle FCNTL_PTR = errnoHandle("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle POLL = errnoHandle("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SETNS = errnoHandle("setns", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    /**
     * pread(fd, buf, buf.byteSize(), offset): one call, so the count may be short; callers loop.
     * {@code buf} must be a native segment.
     */
    public static long pread(int fd, MemorySegment buf, long offset) {
        MemorySegment capture = CAPTURE.get();
        try {
            long ret = (long) PREAD.invokeExact(capture, fd, buf, buf.byteSize(), offset);
            if (ret == -1) {
                throw new ErrnoException("pread(" + fd + ")", errno(capture));
            }
            return ret;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** pwrite(fd, buf, buf.byteSize(), offset): one call, possibly short; callers loop. */
    public static long pwrite(int fd, MemorySegment buf, long offset) {
        MemorySegment capture = CAPTURE.get();
        try {
            long ret = (long) PWRITE.invokeExact(capture, fd, buf, buf.byteSize(), offset);
            if (ret == -1) {
                throw new ErrnoException("pwrite(" + fd + ")", errno(capture));
            }
            return ret;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** lseek(fd, offset, whence); returns the new offset (with SEEK_END and 0: the size, also of a block device). */
    public static long lseek(int fd, long offset, int whence) {
        MemorySegment capture = CAPTURE.get();
        try {
            long ret = (long) LSEEK.invokeExact(capture, fd, offset, whence);
            if (ret == -1) {
                throw new ErrnoException("lseek(" + fd + ")", errno(capture));
            }
            return ret;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void fdatasync(int fd) {
        MemorySegment capture = CAPTURE.get();
        try {
            checkInt("fdatasync(" + fd + ")", (int) FDATASYNC.invokeExact(capture, fd), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void fallocate(int fd, int mode, long offset, long length) {
        MemorySegment capture = CAPTURE.get();
        try {
            checkInt("fallocate(" + fd + ", mode 0x" + Integer.toHexString(mode) + ")",
                    (int) FALLOCATE.invokeExact(capture, fd, mode, offset, length), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** fcntl(fd, cmd, arg) with a pointer argument (the F_OFD_* lock commands take a struct flock). */
    public static int fcntl(int fd, int cmd, MemorySegment arg) {
        MemorySegment capture = CAPTURE.get();
        try {
            return checkInt("fcntl(" + fd + ", " + cmd + ")", (int) FCNTL_PTR.invokeExact(capture, fd, cmd, arg), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** poll(fds, nfds, timeoutMillis); returns the number of ready entries (0 on timeout). */
    public static int poll(MemorySegment fds, int nfds, int timeoutMillis) {
        MemorySegment capture = CAPTURE.get();
        try {
            return checkInt("poll", (int) POLL.invokeExact(capture, fds, (long) nfds, timeoutMillis), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** setns(fd, nstype): moves the calling thread (only it) into the namespace fd refers to. */
    public static void setns(int fd, int nstype) {
        MemorySegment capture = CAPTURE.get();
        try {
            checkInt("setns(" + fd + ")", (int) SETNS.invokeExact(capture, fd, nstype), capture);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final MethodHandle IF_NAMETOINDEX = errnoHandle("if_nametoindex", FunctionDescriptor.of(JAVA_INT, ADDRESS));

    /**
     * if_nametoindex(name): the interface's index in the calling thread's network namespace, or 0
     * when there is no such interface (net/if.h).
     */
    public static int ifNameToIndex(String name) {
        MemorySegment capture = CAPTURE.get();
        try (Arena arena = Arena.ofConfined()) {
            return (int) IF_NAMETOINDEX.invokeExact(capture, arena.allocateFrom(name));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }
}
