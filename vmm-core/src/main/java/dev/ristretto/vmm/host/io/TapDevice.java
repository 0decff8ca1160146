package dev.ristretto.vmm.host.io;

import dev.ristretto.vmm.sys.Errno;
import dev.ristretto.vmm.sys.ErrnoException;
import dev.ristretto.vmm.sys.Libc;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * An existing TAP device, attached through /dev/net/tun (Linux Documentation/networking/tuntap.rst).
 *
 * <p>Flags: IFF_TAP (Ethernet frames) | IFF_NO_PI (no 4-byte packet-information prefix) and no
 * IFF_VNET_HDR: frames cross as bare Ethernet, one frame per read(2) or write(2); the virtio-net
 * device adds and strips its own header. We attach only to a device that already exists (made by
 * an administrator with {@code ip tuntap add … user $USER}): with CAP_NET_ADMIN, TUNSETIFF on an
 * unknown name would silently create a new, unconfigured device that vanishes when we exit.
 *
 * <p>Receiving: the descriptor is O_NONBLOCK and the thread {@code net-tap-NAME} waits in poll(2)
 * on it and on an eventfd. Closing a descriptor does not wake a thread blocked in read(2) on it
 * (the read holds a file reference), so {@link #close} writes the eventfd, joins the thread, and
 * only then closes the descriptors.
 */
public final class TapDevice implements FrameLink {
    private static final System.Logger LOG = System.getLogger(TapDevice.class.getName());
    /** Largest frame a TAP hands us: a 64 KiB MTU plus the Ethernet and VLAN headers. */
    public static final int MAX_FRAME = 65535 + 18;
    private static final String TUN = "/dev/net/tun";
    private static final short POLLERR = 0x8;
    private static final short POLLHUP = 0x10;
    private static final short POLLNVAL = 0x20;

    private final String name;
    private final int fd;
    private final int wakeFd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment sendBuffer;
    private final FrameCounters counters = new FrameCounters();
    private Thread receiveThread;
    private volatile boolean closed;

    private TapDevice(String name, int fd, int wakeFd) {
        this.name = name;
        this.fd = fd;
        this.wakeFd = wakeFd;
        this.sendBuffer = arena.allocate(MAX_FRAME, 8);
    }

    /**
     * Attaches to the TAP device {@code name}, which must exist in the calling thread's network
     * namespace. Throws {@link NetBackendException} with the fix for every setup problem.
     */
    public static TapDevice open(String name) {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0 || bytes.length >= Libc.IFNAMSIZ || name.contains("/") || name.chars()
                .anyMatch(c -> c <= ' ' || c == ':')) {
            throw new NetBackendException("TAP name '" + name + "' is not a valid interface name: use 1 to "
                    + (Libc.IFNAMSIZ - 1) + " characters without '/', ':' or spaces");
        }
        String howToCreate = "create it with: sudo ip tuntap add dev " + name + " mode tap user $USER && sudo ip link set "
                + name + " up";
        if (Libc.ifNameToIndex(name) == 0) {
            throw new NetBackendException("TAP device " + name + " does not exist: " + howToCreate);
        }
        int fd;
        try {
            fd = Libc.open(TUN, Libc.O_RDWR | Libc.O_CLOEXEC | Libc.O_NONBLOCK);
        } catch (ErrnoException e) {
            throw new NetBackendException(switch (e.errno()) {
                case Errno.ENOENT, Errno.ENODEV, Errno.ENXIO -> TUN + " does not exist, so TAP device " + name
                        + " cannot be opened: load the tun module with sudo modprobe tun";
                case Errno.EACCES, Errno.EPERM -> TUN + " is not readable and writable by this user, so TAP device "
                        + name + " cannot be opened: make it so (Debian's default is mode 0666: sudo chmod 0666 " + TUN + ")";
                default -> "TAP device " + name + " cannot be opened: " + TUN + " failed with " + Libc.strerror(e.errno());
            }, e);
        }
        boolean ok = false;
        int wakeFd = -1;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(Libc.IFREQ_SIZE, 8);
            ifr.asSlice(0, bytes.length).copyFrom(MemorySegment.ofArray(bytes)); // NUL-terminated: rest is zero
            ifr.set(ValueLayout.JAVA_SHORT, Libc.IFREQ_FLAGS_OFFSET, (short) (Libc.IFF_TAP | Libc.IFF_NO_PI));
            try {
                Libc.ioctl(fd, Libc.TUNSETIFF, ifr, "TUNSETIFF " + name);
            } catch (ErrnoException e) {
                throw new NetBackendException(switch (e.errno()) {
                    case Errno.EPERM -> "TAP device " + name + " belongs to another user: recreate it for this user with"
                            + " sudo ip tuntap del dev " + name + " mode tap && sudo ip tuntap add dev " + name
                            + " mode tap user $USER";
                    case Errno.EBUSY -> "TAP device " + name + " is already attached to another process (a TAP without"
                            + " multi_queue takes one): stop that process or give this VM its own TAP";
                    case Errno.EINVAL -> name + " exists but is not a TAP device (it is a TUN device or another kind"
                            + " of interface): name a TAP device, or create one with: sudo ip tuntap add dev NEWNAME mode"
                            + " tap user $USER";
                    default -> "TAP device " + name + " cannot be attached: TUNSETIFF failed with "
                            + Libc.strerror(e.errno());
                }, e);
            }
            wakeFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
            TapDevice tap = new TapDevice(name, fd, wakeFd);
            ok = true;
            return tap;
        } finally {
            if (!ok) {
                Libc.close(fd);
                if (wakeFd >= 0) {
                    Libc.close(wakeFd);
                }
            }
        }
    }

    public String name() {
        return name;
    }

    /**
     * Writes one frame. A TAP takes a whole frame per write(2) or none; when the device's queue is
     * full (EAGAIN) we wait up to 100 ms for room, then report the frame as not sent.
     */
    @Override
    public void send(ByteBuffer frame) throws IOException {
        if (closed) {
            throw new IOException("TAP device " + name + " is closed");
        }
        int length = frame.remaining();
        if (length > MAX_FRAME) {
            throw new IOException("TAP device " + name + ": frame of " + length + " bytes exceeds " + MAX_FRAME);
        }
        MemorySegment src;
        if (frame.isDirect()) {
            src = MemorySegment.ofBuffer(frame);
        } else {
            src = sendBuffer.asSlice(0, length);
            src.copyFrom(MemorySegment.ofBuffer(frame));
        }
        for (int attempt = 0; ; attempt++) {
            try {
                long n = Libc.write(fd, src);
                if (n != length) {
                    throw new IOException("TAP device " + name + " took " + n + " of " + length + " bytes of a frame");
                }
                frame.position(frame.limit());
                return;
            } catch (ErrnoException e) {
                if (e.errno() == Errno.EINTR) {
                    continue;
                }
                if (e.errno() == Errno.EAGAIN && attempt == 0) {
                    waitWritable();
                    continue;
                }
                throw new IOException("TAP device " + name + ": sending a frame failed: " + Libc.strerror(e.errno())
                        + (e.errno() == 5 /* EIO */ ? " (is the link up? sudo ip link set " + name + " up)" : ""), e);
            }
        }
    }

    private void waitWritable() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pfd = a.allocate(Libc.POLLFD_SIZE, 4);
            pfd.set(ValueLayout.JAVA_INT, 0, fd);
            pfd.set(ValueLayout.JAVA_SHORT, 4, Libc.POLLOUT);
            try {
                Libc.poll(pfd, 1, 100);
            } catch (ErrnoException e) {
                // EINTR: the caller retries the write once anyway.
            }
        }
    }

    @Override
    public synchronized void start(FrameReceiver receiver) {
        if (receiveThread != null) {
            throw new IllegalStateException("TAP device " + name + ": receiving already started");
        }
        if (closed) {
            throw new IllegalStateException("TAP device " + name + " is closed");
        }
        receiveThread = Thread.ofPlatform().name("net-tap-" + name).daemon(true).unstarted(() -> receiveLoop(receiver));
        receiveThread.start();
    }

    private void receiveLoop(FrameReceiver receiver) {
        FrameReceiver counting = counters.counting(receiver);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(MAX_FRAME, 8);
            MemorySegment pfds = a.allocate(2 * Libc.POLLFD_SIZE, 4);
            pfds.set(ValueLayout.JAVA_INT, 0, fd);
            pfds.set(ValueLayout.JAVA_SHORT, 4, Libc.POLLIN);
            pfds.set(ValueLayout.JAVA_INT, Libc.POLLFD_SIZE, wakeFd);
            pfds.set(ValueLayout.JAVA_SHORT, Libc.POLLFD_SIZE + 4, Libc.POLLIN);
            while (!closed) {
                pfds.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
                pfds.set(ValueLayout.JAVA_SHORT, Libc.POLLFD_SIZE + 6, (short) 0);
                try {
                    Libc.poll(pfds, 2, -1);
                } catch (ErrnoException e) {
                    if (e.errno() == Errno.EINTR) {
                        continue;
                    }
                    throw e;
                }
                if (pfds.get(ValueLayout.JAVA_SHORT, Libc.POLLFD_SIZE + 6) != 0) {
                    return; // close() woke us
                }
                short revents = pfds.get(ValueLayout.JAVA_SHORT, 6);
                if ((revents & (POLLERR | POLLHUP | POLLNVAL)) != 0 && (revents & Libc.POLLIN) == 0) {
                    LOG.log(System.Logger.Level.WARNING, "TAP device " + name + " reported poll events 0x"
                            + Integer.toHexString(revents & 0xffff) + " (was it deleted?); no more frames will be received");
                    return;
                }
                drain(buf, counting);
            }
        } catch (RuntimeException e) {
            if (!closed) {
                LOG.log(System.Logger.Level.WARNING, "TAP device " + name + ": receiving stopped", e);
            }
        }
    }

    /** Reads frames until the device has none left (EAGAIN). */
    private void drain(MemorySegment buf, FrameReceiver receiver) {
        while (!closed) {
            long n;
            try {
                n = Libc.read(fd, buf);
            } catch (ErrnoException e) {
                if (e.errno() == Errno.EAGAIN) {
                    return;
                }
                if (e.errno() == Errno.EINTR) {
                    continue;
                }
                throw e;
            }
            if (n <= 0) {
                return;
            }
            receiver.receive(buf.asSlice(0, n).asByteBuffer());
        }
    }

    @Override
    public long framesReceived() {
        return counters.received();
    }

    @Override
    public long framesDropped() {
        return counters.dropped();
    }

    @Override
    public void close() throws IOException {
        Thread t;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            t = receiveThread;
        }
        try {
            if (t != null) {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment one = a.allocate(8, 8);
                    one.set(ValueLayout.JAVA_LONG, 0, 1);
                    Libc.write(wakeFd, one);
                }
                t.join(5_000);
                if (t.isAlive()) {
                    throw new IOException("TAP device " + name + ": receive thread did not stop within 5 s");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("TAP device " + name + ": interrupted while stopping the receive thread", e);
        } finally {
            if (t == null || !t.isAlive()) {
                Libc.close(fd);
                Libc.close(wakeFd);
                arena.close();
            }
        }
    }

    @Override
    public String toString() {
        return "TapDevice[" + name + "]";
    }
}
