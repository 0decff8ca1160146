package dev.ristretto.devices.virtio.console;

import dev.ristretto.devices.virtio.DescriptorChain;
import dev.ristretto.devices.virtio.Virtio;
import dev.ristretto.devices.virtio.VirtioDevice;
import dev.ristretto.devices.virtio.VirtioInterrupt;
import dev.ristretto.devices.virtio.Virtqueue;
import dev.ristretto.vmm.memory.GuestMemory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Objects;

/**
 * The console device (VIRTIO 1.2 §5.3) with a single port and no VIRTIO_CONSOLE_F_MULTIPORT:
 * receiveq (0) carries host input to the guest, transmitq (1) the guest's output to a
 * {@link ConsoleSink}. Linux binds it as hvc0.
 *
 * <p>VIRTIO_CONSOLE_F_SIZE is offered: cols and rows are in the configuration space, and
 * {@link #setSize} changes them and raises a configuration change notification, which tells the
 * driver to read the new size (§5.3.6 item 3; it applies to port 0); Linux's virtio_console turns
 * it into an hvc resize.
 * VIRTIO_CONSOLE_F_EMERG_WRITE is not offered.
 *
 * <p>Host input is pushed in with {@link #enqueue} and waits in a bounded host queue (as in
 * {@link dev.ristretto.devices.serial.Serial16550}) until the guest posts receive buffers; it
 * survives a device reset, as typed-ahead input survives a UART reset. Each receive buffer is
 * filled with as many queued bytes as it holds: the port is a byte stream (§5.3.6), and the used
 * length tells the driver how many bytes arrived.
 *
 * <p>A receive chain with device-readable buffers or a transmit chain with device-writable ones
 * breaks the queue (§5.3.6.1: the driver MUST NOT put a device-readable buffer in a receiveq nor
 * a device-writable buffer in a transmitq) through {@link Virtqueue#deviceTypeViolation}.
 *
 * <p>Thread safety: one lock ({@code this}) guards the host queue and the receive side, shared by
 * the host's input thread ({@link #enqueue}) and the device worker ({@link #processQueue}). The
 * transmit side runs on the worker outside that lock, so a slow sink never blocks input.
 */
public final class VirtioConsole implements VirtioDevice {

    public static final int RX_QUEUE = 0;
    public static final int TX_QUEUE = 1;
    public static final int QUEUE_SIZE = 256;
    /** VIRTIO_CONSOLE_F_SIZE (§5.3.3): cols and rows are valid. */
    public static final int F_SIZE = 0;
    /** struct virtio_console_config up to rows (§5.3.4); max_nr_ports and emerg_wr need features we do not offer. */
    public static final int CONFIG_SIZE = 4;
    /** Default host input capacity, the same as the UART's. */
    public static final int DEFAULT_HOST_QUEUE = 64 * 1024;
    /** Bytes read from guest memory per step when draining a transmit chain. */
    private static final int TX_CHUNK = 4096;

    private final ConsoleSink out;
    private final byte[] hostQueue;
    private int hostHead;
    private int hostCount;

    private Virtqueue rx;
    private Virtqueue tx;
    private VirtioInterrupt interrupt;
    private int cols = 80;
    private int rows = 24;
    private long bytesReceived;
    private long bytesTransmitted;

    /** A console with the default 64 KiB host input queue. */
    public VirtioConsole(ConsoleSink out) {
        this(out, DEFAULT_HOST_QUEUE);
    }

    /** A console whose host input queue holds {@code hostQueueCapacity} bytes. */
    public VirtioConsole(ConsoleSink out, int hostQueueCapacity) {
        this.out = Objects.requireNonNull(out, "out");
        if (hostQueueCapacity < 1) {
            throw new IllegalArgumentException(
                    "virtio console host queue capacity " + hostQueueCapacity + " must be at least 1 byte");
        }
        this.hostQueue = new byte[hostQueueCapacity];
    }

    @Override
    public int deviceType() {
        return Virtio.TYPE_CONSOLE;
    }

    @Override
    public long deviceFeatures() {
        return Virtio.bit(F_SIZE);
    }

    @Override
    public int[] queueMaxSizes() {
        return new int[] {QUEUE_SIZE, QUEUE_SIZE};
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public synchronized void readConfig(int offset, byte[] data) {
        byte[] config = new byte[CONFIG_SIZE];
        ByteBuffer.wrap(config).order(ByteOrder.LITTLE_ENDIAN).putShort(0, (short) cols).putShort(2, (short) rows);
        Virtio.readConfig(config, offset, data);
    }

    @Override
    public void writeConfig(int offset, byte[] data) {
        // cols and rows are the device's to set (§5.3.4); emerg_wr is not offered.
    }

    /** Sets the console size the guest sees (each 1..65535) and notifies a running driver. */
    public void setSize(int cols, int rows) {
        if (cols < 1 || cols > 0xffff || rows < 1 || rows > 0xffff) {
            throw new IllegalArgumentException("console size " + cols + "x" + rows
                    + " is outside 1..65535 columns and rows");
        }
        VirtioInterrupt irq;
        synchronized (this) {
            if (this.cols == cols && this.rows == rows) {
                return;
            }
            this.cols = cols;
            this.rows = rows;
            irq = interrupt;
        }
        if (irq != null) {
            irq.configChanged();
        }
    }

    @Override
    public void activate(GuestMemory memory, List<Virtqueue> queues, long features, VirtioInterrupt interrupt) {
        boolean used;
        synchronized (this) {
            this.rx = queues.get(RX_QUEUE);
            this.tx = queues.get(TX_QUEUE);
            this.interrupt = interrupt;
            // Input typed before the driver was ready goes out as soon as it posts buffers.
            used = drainLocked();
        }
        if (used) {
            interrupt.usedBuffers(RX_QUEUE);
        }
    }

    @Override
    public synchronized void reset() {
        rx = null;
        tx = null;
        interrupt = null;
    }

    /** Host input bytes delivered into guest receive buffers since creation. */
    public synchronized long bytesReceived() {
        return bytesReceived;
    }

    /** Guest output bytes handed to the sink since creation. */
    public synchronized long bytesTransmitted() {
        return bytesTransmitted;
    }

    /** Bytes of host input waiting for guest receive buffers. */
    public synchronized int hostQueued() {
        return hostCount;
    }

    /**
     * Queues host input for the guest. Returns how many bytes were accepted (fewer than
     * {@code len} when the host queue is full); the caller keeps the rest and retries later.
     */
    public int enqueue(byte[] data, int off, int len) {
        Objects.checkFromIndexSize(off, len, data.length);
        int accepted;
        boolean used;
        VirtioInterrupt irq;
        synchronized (this) {
            accepted = Math.min(len, hostQueue.length - hostCount);
            for (int i = 0; i < accepted; i++) {
                hostQueue[(hostHead + hostCount + i) % hostQueue.length] = data[off + i];
            }
            hostCount += accepted;
            used = drainLocked();
            irq = interrupt;
        }
        if (used) {
            irq.usedBuffers(RX_QUEUE);
        }
        return accepted;
    }

    /** Moves queued host input into receive chains while both exist; true if any chain was used. */
    private boolean drainLocked() {
        if (rx == null) {
            return false;
        }
        boolean used = false;
        while (hostCount > 0) {
            DescriptorChain chain = rx.popOrEnableNotification();
            if (chain == null) {
                break;
            }
            if (chain.readableLength() != 0) {
                rx.deviceTypeViolation("virtio-console receive chain " + chain + " has device-readable buffers"
                        + " (VIRTIO 1.2 §5.3.6.1)");
                break;
            }
            int n = (int) Math.min(hostCount, chain.writableLength());
            byte[] bytes = new byte[n];
            for (int i = 0; i < n; i++) {
                bytes[i] = hostQueue[(hostHead + i) % hostQueue.length];
            }
            chain.write(0, bytes);
            hostHead = (hostHead + n) % hostQueue.length;
            hostCount -= n;
            bytesReceived += n;
            rx.addUsed(chain.head(), n);
            used = true;
        }
        return used;
    }

    @Override
    public void processQueue(int index) {
        if (index == RX_QUEUE) {
            boolean used;
            VirtioInterrupt irq;
            synchronized (this) {
                used = drainLocked();
                irq = interrupt;
            }
            if (used) {
                irq.usedBuffers(RX_QUEUE);
            }
        } else if (index == TX_QUEUE) {
            transmit();
        }
    }

    private void transmit() {
        Virtqueue q;
        VirtioInterrupt irq;
        synchronized (this) {
            q = tx;
            irq = interrupt;
        }
        if (q == null) {
            return;
        }
        byte[] buf = new byte[TX_CHUNK];
        boolean notify = q.processAvailable(chain -> {
            if (chain.writableLength() != 0) {
                q.deviceTypeViolation("virtio-console transmit chain " + chain + " has device-writable buffers"
                        + " (VIRTIO 1.2 §5.3.6.1)");
                return Virtqueue.BROKE_QUEUE;
            }
            // In pieces: a chain may be as long as guest RAM, the sink needs no single array.
            long total = chain.readableLength();
            for (long at = 0; at < total; ) {
                int len = chain.read(at, buf);
                if (len == 0) {
                    break;
                }
                out.write(buf, 0, len);
                at += len;
            }
            synchronized (this) {
                bytesTransmitted += total;
            }
            return 0; // a transmit chain has nothing device-writable
        });
        if (notify) {
            irq.usedBuffers(TX_QUEUE);
        }
    }
}
