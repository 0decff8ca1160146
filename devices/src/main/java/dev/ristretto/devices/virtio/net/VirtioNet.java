package dev.ristretto.devices.virtio.net;

import dev.ristretto.devices.virtio.DescriptorChain;
import dev.ristretto.devices.virtio.Virtio;
import dev.ristretto.devices.virtio.VirtioDevice;
import dev.ristretto.devices.virtio.VirtioInterrupt;
import dev.ristretto.devices.virtio.Virtqueue;
import dev.ristretto.vmm.memory.GuestMemory;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The network device (VIRTIO 1.2 §5.1) with one receive queue (0) and one transmit queue (1),
 * in front of a {@link NetBackend}.
 *
 * <h2>Features</h2>
 * VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS and VIRTIO_NET_F_MRG_RXBUF; the transport adds
 * VERSION_1, INDIRECT_DESC and EVENT_IDX. No checksum or segmentation offload is offered: the
 * backends move plain frames, and an offload we cannot honour end to end would hand the peer
 * bad checksums. MRG_RXBUF matters because passt hands the guest an MTU of 65520 by DHCP: with
 * it Linux posts page-sized buffers and we spread a large frame over several; without it Linux
 * posts one 1518-byte-plus-header buffer per frame when no large receive offload is negotiated
 * (§5.1.6.3.1), and every larger frame would be dropped. A driver that does not negotiate it
 * still works, with one chain per frame.
 *
 * <h2>The header (§5.1.6)</h2>
 * With VERSION_1 every packet in either direction starts with the 12-byte struct virtio_net_hdr
 * {@code {u8 flags, u8 gso_type, le16 hdr_len, le16 gso_size, le16 csum_start, le16 csum_offset,
 * le16 num_buffers}}. On transmit we strip it: since no offload was negotiated the driver must
 * leave flags 0 and gso_type NONE (§5.1.6.2.1), and there is nothing in it for us. On receive we
 * write it zeroed except num_buffers: 1 without MRG_RXBUF, else the number of chains the frame
 * spans (§5.1.6.4.1).
 *
 * <h2>Receive</h2>
 * Frames arrive on the backend's thread through {@link #deliver}. If the guest has posted a
 * receive chain the frame goes straight in; otherwise it waits in a bounded queue of
 * {@link #PENDING_FRAMES} frames, and later frames are dropped and counted (a NIC whose ring is
 * full drops too; TCP recovers). The queue drains when the guest posts buffers (a notification
 * on queue 0). Without MRG_RXBUF a chain too small for the frame at hand goes back to the
 * guest empty (used length 0, which Linux counts as rx_length_errors and reposts), and the frame
 * is dropped and counted; holding the chain for a smaller frame instead would let one tiny
 * buffer stall every buffer behind it. Runts below an Ethernet header and frames above
 * {@link #MAX_FRAME_SIZE} are dropped and counted.
 *
 * <h2>Driver errors</h2>
 * A transmit chain shorter than the header, a receive chain with device-readable buffers, a
 * receive chain shorter than the header when MRG_RXBUF is negotiated (§5.1.6.3.1), or a
 * transmit chain with device-writable ones breaks the framing of §5.1.6 and breaks the queue
 * through {@link Virtqueue#deviceTypeViolation} (DEVICE_NEEDS_RESET, §2.1.2).
 *
 * <p>Thread safety: one lock ({@code this}) guards the receive state, shared by the backend's
 * thread ({@link #deliver}) and the device worker ({@link #processQueue}). Transmission runs on
 * the worker outside that lock, so a backend whose {@code send} blocks cannot stall receiving.
 */
public final class VirtioNet implements VirtioDevice, NetBackend.FrameSink {

    private static final Logger LOG = System.getLogger(VirtioNet.class.getName());

    public static final int RX_QUEUE = 0;
    public static final int TX_QUEUE = 1;
    public static final int QUEUE_SIZE = 256;

    // Feature bits, §5.1.3.
    public static final int F_MAC = 5;
    public static final int F_MRG_RXBUF = 15;
    public static final int F_STATUS = 16;

    /** VIRTIO_NET_S_LINK_UP in the status field (§5.1.4). */
    public static final int S_LINK_UP = 1;

    /** sizeof(struct virtio_net_hdr) with VERSION_1 (§5.1.6: num_buffers is always present). */
    public static final int HEADER_SIZE = 12;
    /** An Ethernet header (destination, source, EtherType): the shortest frame worth delivering. */
    public static final int MIN_FRAME_SIZE = 14;
    /**
     * The longest frame we move: the largest IP packet (65535 bytes, the IPv4 total length and the
     * IPv6 payload limit without jumbograms) behind an Ethernet header.
     */
    public static final int MAX_FRAME_SIZE = 65535 + 14;
    /** Frames held for the guest while it has no receive buffers posted. */
    public static final int PENDING_FRAMES = 256;

    /** mac[6], le16 status (§5.1.4); the fields after status exist only with features we do not offer. */
    public static final int CONFIG_SIZE = 8;

    private final NetBackend backend;
    private final byte[] mac;

    // Guarded by this.
    private Virtqueue rx;
    private Virtqueue tx;
    private VirtioInterrupt interrupt;
    private boolean started;
    private boolean linkUp = true;
    private final ArrayDeque<byte[]> pending = new ArrayDeque<>();
    private boolean mergeable;
    private final List<DescriptorChain> gathered = new ArrayList<>();
    private long gatheredBytes;
    private long rxFrames;
    private long rxDroppedFull;
    private long rxDroppedInvalid;
    private long rxDroppedTooBig;
    private long txFrames;
    private long txDropped;

    /**
     * @param backend where frames go and come from; started on the first activation
     * @param mac     the 6-byte unicast MAC address the guest will use
     */
    public VirtioNet(NetBackend backend, byte[] mac) {
        this.backend = Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(mac, "mac");
        if (mac.length != 6) {
            throw new IllegalArgumentException("a MAC address is 6 bytes, not " + mac.length);
        }
        if ((mac[0] & 1) != 0) {
            // The I/G bit: Linux refuses a multicast address for an interface and picks a random one.
            throw new IllegalArgumentException("MAC address " + format(mac)
                    + " is a multicast address; the first byte must be even");
        }
        this.mac = mac.clone();
    }

    /** The MAC address as aa:bb:cc:dd:ee:ff. */
    public static String format(byte[] mac) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < mac.length; i++) {
            sb.append(i == 0 ? "" : ":").append(String.format("%02x", mac[i] & 0xff));
        }
        return sb.toString();
    }

    @Override
    public int deviceType() {
        return Virtio.TYPE_NET;
    }

    @Override
    public long deviceFeatures() {
        return Virtio.bit(F_MAC) | Virtio.bit(F_STATUS) | Virtio.bit(F_MRG_RXBUF);
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
        System.arraycopy(mac, 0, config, 0, 6);
        ByteBuffer.wrap(config).order(ByteOrder.LITTLE_ENDIAN).putShort(6, (short) (linkUp ? S_LINK_UP : 0));
        Virtio.readConfig(config, offset, data);
    }

    @Override
    public void writeConfig(int offset, byte[] data) {
        // §5.1.4: mac is writable only in legacy devices; status is read-only.
    }

    /**
     * Sets the link state the guest sees in the status field (§5.1.4). A change while the driver
     * is running raises a configuration change notification (§2.5, §5.1.4), so Linux calls
     * netif_carrier_on/off at once.
     */
    public void setLinkUp(boolean up) {
        VirtioInterrupt irq;
        synchronized (this) {
            if (linkUp == up) {
                return;
            }
            linkUp = up;
            irq = interrupt;
        }
        if (irq != null) {
            irq.configChanged();
        }
    }

    public synchronized boolean linkUp() {
        return linkUp;
    }

    @Override
    public void activate(GuestMemory memory, List<Virtqueue> queues, long features, VirtioInterrupt interrupt) {
        boolean start;
        synchronized (this) {
            this.rx = queues.get(RX_QUEUE);
            this.tx = queues.get(TX_QUEUE);
            this.interrupt = interrupt;
            this.mergeable = (features & Virtio.bit(F_MRG_RXBUF)) != 0;
            start = !started;
            started = true;
        }
        // NetBackend.start is called once: the backend keeps delivering across guest resets,
        // and frames that arrive while no driver is ready are dropped here.
        if (start) {
            backend.start(this);
        }
    }

    @Override
    public synchronized void reset() {
        rx = null;
        tx = null;
        interrupt = null;
        pending.clear();
        gathered.clear();
        gatheredBytes = 0;
        mergeable = false;
    }

    // ---- counters ----

    /** Frames written into guest receive buffers. */
    public synchronized long rxFrames() {
        return rxFrames;
    }

    /** Frames dropped because the guest had no buffers and the pending queue was full (or no driver). */
    public synchronized long rxDroppedFull() {
        return rxDroppedFull;
    }

    /** Frames dropped for a length outside [{@link #MIN_FRAME_SIZE}, {@link #MAX_FRAME_SIZE}]. */
    public synchronized long rxDroppedInvalid() {
        return rxDroppedInvalid;
    }

    /** Frames dropped because the guest's receive chain could not hold them (the chain went back empty). */
    public synchronized long rxDroppedTooBig() {
        return rxDroppedTooBig;
    }

    /** Frames waiting for guest receive buffers. */
    public synchronized int rxPending() {
        return pending.size();
    }

    /** Frames handed to the backend. */
    public synchronized long txFrames() {
        return txFrames;
    }

    /** Transmit requests dropped: a bad frame length or a backend failure. */
    public synchronized long txDropped() {
        return txDropped;
    }

    // ---- receive ----

    @Override
    public boolean deliver(ByteBuffer frame) {
        int len = frame.remaining();
        boolean used;
        VirtioInterrupt irq;
        synchronized (this) {
            if (len < MIN_FRAME_SIZE || len > MAX_FRAME_SIZE) {
                rxDroppedInvalid++;
                return false;
            }
            if (rx == null || pending.size() >= PENDING_FRAMES) {
                rxDroppedFull++;
                return false;
            }
            byte[] copy = new byte[len];
            frame.duplicate().get(copy);
            pending.addLast(copy);
            used = drainLocked();
            irq = interrupt;
        }
        if (used && irq != null) {
            irq.usedBuffers(RX_QUEUE);
        }
        return true;
    }

    /**
     * Moves pending frames into receive chains while both exist; returns whether any chain was
     * used. Called with the lock held.
     *
     * <p>Without MRG_RXBUF each frame takes one chain. With it (§5.1.6.4.1) a frame takes as
     * many chains as its header and bytes need, filling every chain but the last completely;
     * num_buffers says how many, and all of them are published with one used-index store. The
     * chains gathered for a frame wait in {@link #gathered} until there are enough, so a frame
     * never goes out partly. A frame that would need more chains than the ring holds can never
     * be placed: it is dropped and the gathered chains go back empty.
     */
    private boolean drainLocked() {
        boolean used = false;
        while (!pending.isEmpty()) {
            byte[] frame = pending.peekFirst();
            long need = HEADER_SIZE + frame.length;
            while (gatheredBytes < need) {
                DescriptorChain chain = nextRxChain();
                if (chain == null) {
                    return used;
                }
                gathered.add(chain);
                gatheredBytes += chain.writableLength();
                if (!mergeable || gathered.size() == rx.size()) {
                    break;
                }
            }
            pending.removeFirst();
            used = true;
            int count = gathered.size();
            int[] heads = new int[count];
            int[] lengths = new int[count];
            for (int k = 0; k < count; k++) {
                heads[k] = gathered.get(k).head();
            }
            if (gatheredBytes < need) {
                // Too small even for one frame (or, merging, the whole ring is): return the
                // chains empty, which Linux counts as rx_length_errors and reposts.
                rxDroppedTooBig++;
            } else {
                writeFrame(frame, lengths);
                rxFrames++;
            }
            rx.addUsed(heads, lengths, count);
            gathered.clear();
            gatheredBytes = 0;
        }
        return used;
    }

    /** Writes header and frame across {@link #gathered}, filling each chain before the next. */
    private void writeFrame(byte[] frame, int[] lengths) {
        byte[] header = new byte[HEADER_SIZE];
        // flags 0, gso_type VIRTIO_NET_HDR_GSO_NONE, no checksum (§5.1.6.4.1); num_buffers (le16).
        header[10] = (byte) gathered.size();
        header[11] = (byte) (gathered.size() >>> 8);
        byte[] packet = new byte[HEADER_SIZE + frame.length];
        System.arraycopy(header, 0, packet, 0, HEADER_SIZE);
        System.arraycopy(frame, 0, packet, HEADER_SIZE, frame.length);
        int done = 0;
        for (int k = 0; k < gathered.size(); k++) {
            DescriptorChain chain = gathered.get(k);
            int n = (int) Math.min(chain.writableLength(), packet.length - done);
            chain.write(0, n == packet.length ? packet : Arrays.copyOfRange(packet, done, done + n));
            lengths[k] = n;
            done += n;
        }
    }

    /** The next available receive chain, asking for a notification when there is none. */
    private DescriptorChain nextRxChain() {
        DescriptorChain chain = rx.popOrEnableNotification();
        if (chain == null) {
            return null;
        }
        if (chain.readableLength() != 0) {
            rx.deviceTypeViolation("virtio-net receive chain " + chain + " has device-readable buffers"
                    + " (VIRTIO 1.2 §5.1.6.3)");
            return null;
        }
        if (mergeable && chain.writableLength() < HEADER_SIZE) {
            // §5.1.6.3.1: with MRG_RXBUF "each buffer MUST be at least the size of the struct
            // virtio_net_hdr", so the header never straddles chains; Linux relies on that.
            rx.deviceTypeViolation("virtio-net receive chain " + chain + " is shorter than the "
                    + HEADER_SIZE + "-byte header with VIRTIO_NET_F_MRG_RXBUF (VIRTIO 1.2 §5.1.6.3.1)");
            return null;
        }
        return chain;
    }

    // ---- queues ----

    @Override
    public void processQueue(int index) {
        if (index == RX_QUEUE) {
            boolean used;
            VirtioInterrupt irq;
            synchronized (this) {
                if (rx == null) {
                    return;
                }
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
        boolean notify = q.processAvailable(chain -> {
            if (chain.readableLength() < HEADER_SIZE || chain.writableLength() != 0) {
                q.deviceTypeViolation("virtio-net transmit chain " + chain + " is not a device-readable"
                        + " virtio_net_hdr followed by a frame (VIRTIO 1.2 §5.1.6.2)");
                return Virtqueue.BROKE_QUEUE;
            }
            send(chain);
            // Transmit chains are device-readable only (§5.1.6.2): nothing was written.
            return 0;
        });
        if (notify) {
            irq.usedBuffers(TX_QUEUE);
        }
    }

    private void send(DescriptorChain chain) {
        long len = chain.readableLength() - HEADER_SIZE;
        if (len < MIN_FRAME_SIZE || len > MAX_FRAME_SIZE) {
            synchronized (this) {
                txDropped++;
            }
            return;
        }
        byte[] frame = new byte[(int) len];
        chain.read(HEADER_SIZE, frame);
        try {
            backend.send(ByteBuffer.wrap(frame));
            synchronized (this) {
                txFrames++;
            }
        } catch (IOException e) {
            // The guest sees a sent frame; the wire lost it, as a real NIC's would.
            LOG.log(Level.DEBUG, "virtio-net: backend failed to send a " + len + "-byte frame", e);
            synchronized (this) {
                txDropped++;
            }
        }
    }
}
