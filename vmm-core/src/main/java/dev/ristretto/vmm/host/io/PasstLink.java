package dev.ristretto.vmm.host.io;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * User-mode networking through passt (passt(1), Debian package {@code passt}): the guest gets DHCP,
 * DNS, NDP and outbound TCP/UDP/ICMP with no privileges, passt translating its frames to host
 * sockets.
 *
 * <p>We start {@code passt -f -e -1 -s SOCKET} in a private temporary directory: {@code -f} keeps it
 * in the foreground as our child, {@code -e} sends its log to stderr (redirected to a file we quote
 * when it fails), {@code -1} makes it exit when our connection closes — so it also goes away if
 * this JVM is killed — and {@code -s} puts its UNIX socket where we choose instead of probing
 * /tmp/passt_N.socket. We connect a {@link SocketChannel} to it; frames travel in QEMU's stream
 * format, each preceded by its 32-bit big-endian length ({@link StreamFrameDecoder}).
 *
 * <p>passt started as root drops to the user {@code nobody} before binding its socket (passt(1),
 * "--runas"), so as root we hand the private directory to {@code nobody}; otherwise passt could
 * not create its socket there (it logs a bind error but carries on).
 *
 * <p>The receive thread {@code net-passt} blocks in {@code SocketChannel.read}; closing the channel
 * wakes it (the JDK's NIO signals the blocked thread), so {@link #close} needs no extra wake-up fd.
 */
public final class PasstLink implements FrameLink {
    private static final System.Logger LOG = System.getLogger(PasstLink.class.getName());
    /** passt's largest frame: its 65520-byte maximum MTU plus the Ethernet header (passt(1) --mtu). */
    public static final int MAX_FRAME = 65535 + 18;
    private static final long STARTUP_TIMEOUT_MS = 10_000;

    private final Process process;
    private final Path dir;
    private final Path socket;
    private final Path log;
    private final SocketChannel channel;
    private final FrameCounters counters = new FrameCounters();
    private Thread receiveThread;
    private volatile boolean closed;

    private PasstLink(Process process, Path dir, Path socket, Path log, SocketChannel channel) {
        this.process = process;
        this.dir = dir;
        this.socket = socket;
        this.log = log;
        this.channel = channel;
    }

    /** Starts passt (found on PATH) and connects to it. */
    public static PasstLink launch() {
        return launch(findOnPath("passt"), List.of());
    }

    /**
     * Starts {@code passt} with {@code extraArgs} appended (e.g. {@code -4}, {@code -a ADDR}) and
     * connects to it. Throws {@link NetBackendException} when passt is missing or does not come up.
     */
    public static PasstLink launch(Path passt, List<String> extraArgs) {
        if (passt == null || !Files.isExecutable(passt)) {
            throw new NetBackendException("passt is not installed (needed by --net user): sudo apt-get install passt");
        }
        Path dir;
        try {
            dir = Files.createTempDirectory("ristretto-passt-"); // mode 0700: only we (and root) reach the socket
            if (isRoot()) {
                UserPrincipal nobody = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
                Files.setOwner(dir, nobody);
            }
        } catch (IOException e) {
            throw new NetBackendException("cannot create a private directory for passt's socket under "
                    + System.getProperty("java.io.tmpdir") + " (" + e.getMessage() + "): check TMPDIR", e);
        }
        Path socket = dir.resolve("passt.socket");
        Path log = dir.resolve("passt.log");
        List<String> cmd = new ArrayList<>(List.of(passt.toString(), "-f", "-e", "-1", "-s", socket.toString()));
        cmd.addAll(extraArgs);
        Process process = null;
        SocketChannel channel = null;
        try {
            process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
            channel = connect(process, socket, log);
            return new PasstLink(process, dir, socket, log, channel);
        } catch (IOException | RuntimeException e) {
            if (process != null) {
                process.destroyForcibly();
            }
            deleteQuietly(dir);
            if (e instanceof NetBackendException nbe) {
                throw nbe;
            }
            throw new NetBackendException("passt (" + passt + ") could not be started: " + e.getMessage(), e);
        }
    }

    /** Waits (bounded) for passt's socket and connects; passt binds, then listens, so retry refusals. */
    private static SocketChannel connect(Process process, Path socket, Path log) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STARTUP_TIMEOUT_MS);
        IOException last = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new NetBackendException("passt exited with status " + process.exitValue()
                        + " before accepting a connection: " + tail(log));
            }
            if (Files.exists(socket)) {
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                try {
                    ch.connect(UnixDomainSocketAddress.of(socket));
                    return ch;
                } catch (IOException e) {
                    ch.close();
                    last = e;
                }
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for passt", e);
            }
        }
        throw new NetBackendException("passt did not open its socket " + socket + " within " + STARTUP_TIMEOUT_MS
                + " ms" + (last != null ? " (" + last.getMessage() + ")" : "") + ": " + tail(log));
    }

    /** The last lines of passt's log, for an error message (passt says why it stopped). */
    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log).stream().filter(l -> !l.isBlank()).toList();
            return "passt said: " + String.join(" | ", lines.subList(Math.max(0, lines.size() - 4), lines.size()));
        } catch (IOException e) {
            return "(no passt log)";
        }
    }

    private static boolean isRoot() {
        try {
            return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    /** The first executable {@code name} in $PATH, or null. */
    static Path findOnPath(String name) {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String d : path.split(":")) {
            if (!d.isEmpty()) {
                Path p = Path.of(d, name);
                if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                    return p;
                }
            }
        }
        return null;
    }

    /** The passt process (tests check it is gone after {@link #close}). */
    public ProcessHandle process() {
        return process.toHandle();
    }

    /** passt's UNIX socket; removed by {@link #close}. */
    public Path socketPath() {
        return socket;
    }

    /** Writes one frame with its length prefix; blocks while passt's socket buffer is full. */
    @Override
    public void send(ByteBuffer frame) throws IOException {
        int length = frame.remaining();
        if (length == 0 || length > MAX_FRAME) {
            throw new IOException("passt: frame of " + length + " bytes is outside 1.." + MAX_FRAME);
        }
        ByteBuffer[] parts = {StreamFrameDecoder.header(length), frame};
        synchronized (channel) { // a frame's prefix and body must not interleave with another frame
            while (parts[1].hasRemaining()) {
                channel.write(parts);
            }
        }
    }

    @Override
    public synchronized void start(FrameReceiver receiver) {
        if (receiveThread != null) {
            throw new IllegalStateException("passt: receiving already started");
        }
        if (closed) {
            throw new IllegalStateException("passt link is closed");
        }
        receiveThread = Thread.ofPlatform().name("net-passt").daemon(true).unstarted(() -> receiveLoop(receiver));
        receiveThread.start();
    }

    private void receiveLoop(FrameReceiver receiver) {
        StreamFrameDecoder decoder = new StreamFrameDecoder(MAX_FRAME);
        FrameReceiver counting = counters.counting(receiver);
        try {
            while (!closed) {
                if (channel.read(decoder.buffer()) < 0) {
                    if (!closed) {
                        LOG.log(System.Logger.Level.WARNING, "passt closed its connection: " + tail(log));
                    }
                    return;
                }
                decoder.decode(counting);
            }
        } catch (ClosedChannelException e) { // includes AsynchronousCloseException
            // close() closed the channel: the normal way out.
        } catch (IOException | RuntimeException e) {
            if (!closed) {
                LOG.log(System.Logger.Level.WARNING, "passt: receiving stopped", e);
            }
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

    /** Closes the connection, stops the receive thread, ends passt and removes its directory. */
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
            channel.close(); // passt -1 exits on its own now; SIGTERM below makes sure
            if (t != null) {
                t.join(5_000);
            }
            process.destroy();
            if (!process.waitFor(2, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(2, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            throw new IOException("interrupted while stopping passt", e);
        } finally {
            deleteQuietly(dir);
        }
        if (process.isAlive()) {
            throw new IOException("passt (pid " + process.pid() + ") did not exit after SIGKILL");
        }
    }

    private static void deleteQuietly(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "could not remove " + dir + ": " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return "PasstLink[pid " + process.pid() + ", " + socket + "]";
    }
}
