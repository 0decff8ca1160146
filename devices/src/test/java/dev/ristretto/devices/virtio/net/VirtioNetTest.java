package dev.ristretto.devices.virtio.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.devices.virtio.QueueDriver;
import dev.ristretto.devices.virtio.Virtio;
import dev.ristretto.devices.virtio.VirtioInterrupt;
import dev.ristretto.devices.virtio.Virtqueue;
import dev.ristretto.vmm.memory.GuestAddress;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** virtio-net against two real split virtqueues in guest RAM and a recording backend. */
class VirtioNetTest {

    private static final byte[] MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    private static final long RX_BUF = QueueDriver.RAM_BASE + 0x2_0000;
    private static final long TX_BUF = QueueDriver.RAM_BASE + 0xa_0000;
    private static final long FEATURES = Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_EVENT_IDX)
            | Virtio.bit(Virtio.F_INDIRECT_DESC) | Virtio.bit(VirtioNet.F_MAC) | Virtio.bit(VirtioNet.F_STATUS);

    /** Records what the device sends and keeps the sink the device registers. */
    static final class FakeBackend implements NetBackend {
        final List<byte[]> sent = new CopyOnWriteArrayList<>();
        volatile FrameSink sink;
        int starts;
        boolean fail;

        @Override
        public void send(ByteBuffer frame) throws IOException {
            if (fail) {
                throw new IOException("injected");
            }
            byte[] b = new byte[frame.remaining()];
            frame.get(b);
            sent.add(b);
        }

        @Override
        public void start(FrameSink sink) {
            starts++;
            this.sink = sink;
        }

        @Override
        public void close() {
        }
    }

    private Arena arena;
    private QueueDriver rxDriver;
    private QueueDriver txDriver;
    private Virtqueue rxQueue;
    private Virtqueue txQueue;
    private FakeBackend backend;
    private VirtioNet net;
    private final List<String> violations = new CopyOnWriteArrayList<>();
    private final AtomicInteger rxInterrupts = new AtomicInteger();
    private final AtomicInteger txInterrupts = new AtomicInteger();
    private final AtomicInteger configChanges = new AtomicInteger();
    private int rxPosted;

    @BeforeEach
    void setUp() {
        arena = Arena.ofShared();
        rxDriver = new QueueDriver(arena, 16);
        txDriver = new QueueDriver(rxDriver, 16, QueueDriver.RAM_BASE + 0x4000);
        backend = new FakeBackend();
        net = new VirtioNet(backend, MAC);
        activate();
    }

    private void activate() {
        activate(FEATURES);
    }

    private void activate(long features) {
        Virtqueue.ViolationListener l = (q, reason) -> violations.add(reason);
        rxQueue = rxDriver.queue(0, VirtioNet.QUEUE_SIZE, features, l);
        txQueue = txDriver.queue(1, VirtioNet.QUEUE_SIZE, features, l);
        net.activate(rxDriver.memory, List.of(rxQueue, txQueue), features, new VirtioInterrupt() {
            @Override
            public void usedBuffers(int queue) {
                (queue == 0 ? rxInterrupts : txInterrupts).incrementAndGet();
            }

            @Override
            public void configChanged() {
                configChanges.incrementAndGet();
            }
        });
    }

    @AfterEach
    void tearDown() {
        assertTrue(rxDriver.guardsIntact());
        arena.close();
    }

    private static byte[] frame(int len, int seed) {
        byte[] f = new byte[len];
        new Random(seed).nextBytes(f);
        return f;
    }

    /** A 64-byte frame that carries its sequence number in its first four bytes. */
    private static byte[] numbered(int n) {
        return ByteBuffer.allocate(64).putInt(0, n).array();
    }

    /** Posts one device-writable receive buffer of {@code len} bytes; returns its descriptor index. */
    private int postRx(int len) {
        int i = rxPosted++ % 16;
        rxDriver.descriptor(i, RX_BUF + 0x1000L * i, len, Virtqueue.DESC_F_WRITE, 0);
        rxDriver.offer(i);
        return i;
    }

    private byte[] rxBuffer(int descriptor, int len) {
        return rxDriver.memory.read(GuestAddress.of(RX_BUF + 0x1000L * descriptor), len);
    }

    @Test
    void configSpaceHoldsMacAndLinkStatus() {
        byte[] cfg = new byte[VirtioNet.CONFIG_SIZE];
        net.readConfig(0, cfg);
        assertArrayEquals(new byte[] {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 1, 0}, cfg);
        net.setLinkUp(false);
        net.setLinkUp(false);
        net.readConfig(6, cfg = new byte[2]);
        assertArrayEquals(new byte[] {0, 0}, cfg);
        assertEquals(1, configChanges.get(), "one notification per change");
        net.setLinkUp(true);
        assertEquals(2, configChanges.get());
        net.writeConfig(0, new byte[] {1, 2, 3, 4, 5, 6});
        net.readConfig(0, cfg = new byte[6]);
        assertArrayEquals(MAC, cfg, "the MAC is read-only");
        assertEquals(Virtio.bit(VirtioNet.F_MAC) | Virtio.bit(VirtioNet.F_STATUS) | Virtio.bit(VirtioNet.F_MRG_RXBUF),
                net.deviceFeatures(), "no offloads");
        assertArrayEquals(new int[] {256, 256}, net.queueMaxSizes());
    }

    @Test
    void macAddressesAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> new VirtioNet(backend, new byte[5]));
        assertThrows(IllegalArgumentException.class, () -> new VirtioNet(backend, new byte[] {1, 0, 0, 0, 0, 1}));
        assertEquals("52:54:00:12:34:56", VirtioNet.format(MAC));
    }

    @Test
    void backendStartsOnceAcrossResets() {
        assertEquals(1, backend.starts);
        net.reset();
        activate();
        assertEquals(1, backend.starts);
    }

    @Test
    void transmitStripsTheHeader() {
        byte[] f = frame(60, 1);
        // Header and frame in one buffer (Linux's any_header_sg layout).
        byte[] one = new byte[12 + 60];
        Arrays.fill(one, 0, 12, (byte) 0);
        System.arraycopy(f, 0, one, 12, 60);
        txDriver.memory.write(GuestAddress.of(TX_BUF), one);
        txDriver.descriptor(0, TX_BUF, one.length, 0, 0);
        txDriver.offer(0);
        // Header alone, then the frame split over two buffers.
        byte[] g = frame(1514, 2);
        txDriver.memory.write(GuestAddress.of(TX_BUF + 0x1000), new byte[12]);
        txDriver.memory.write(GuestAddress.of(TX_BUF + 0x2000), Arrays.copyOfRange(g, 0, 1000));
        txDriver.memory.write(GuestAddress.of(TX_BUF + 0x3000), Arrays.copyOfRange(g, 1000, 1514));
        txDriver.descriptor(1, TX_BUF + 0x1000, 12, Virtqueue.DESC_F_NEXT, 2);
        txDriver.descriptor(2, TX_BUF + 0x2000, 1000, Virtqueue.DESC_F_NEXT, 3);
        txDriver.descriptor(3, TX_BUF + 0x3000, 514, 0, 0);
        txDriver.offer(1);
        net.processQueue(VirtioNet.TX_QUEUE);

        assertEquals(2, backend.sent.size());
        assertArrayEquals(f, backend.sent.get(0));
        assertArrayEquals(g, backend.sent.get(1));
        assertEquals(2, txDriver.usedIdx());
        assertArrayEquals(new int[] {0, 0}, txDriver.usedElement(0), "nothing written into a TX chain");
        assertArrayEquals(new int[] {1, 0}, txDriver.usedElement(1));
        assertEquals(1, txInterrupts.get());
        assertEquals(2, net.txFrames());
    }

    @Test
    void badTransmitFramesAreDroppedAndCounted() {
        txDriver.descriptor(0, TX_BUF, 12 + 13, 0, 0);   // a runt
        txDriver.offer(0);
        txDriver.descriptor(1, TX_BUF, 12, 0, 0);        // no frame at all
        txDriver.offer(1);
        txDriver.descriptor(2, TX_BUF, 12 + VirtioNet.MAX_FRAME_SIZE + 1, 0, 0);
        txDriver.offer(2);
        net.processQueue(VirtioNet.TX_QUEUE);
        assertEquals(3, net.txDropped());
        assertTrue(backend.sent.isEmpty());
        assertEquals(3, txDriver.usedIdx(), "each chain still goes back to the guest");

        backend.fail = true;
        txDriver.descriptor(3, TX_BUF, 12 + 60, 0, 0);
        txDriver.offer(3);
        net.processQueue(VirtioNet.TX_QUEUE);
        assertEquals(4, net.txDropped(), "a backend failure is a lost frame, not a guest error");
        assertFalse(txQueue.isBroken());
    }

    @Test
    void aTransmitChainWithoutHeaderBreaksTheQueue() {
        txDriver.descriptor(0, TX_BUF, 11, 0, 0);
        txDriver.offer(0);
        net.processQueue(VirtioNet.TX_QUEUE);
        assertTrue(txQueue.isBroken());
        assertEquals(1, violations.size());
    }

    @Test
    void aTransmitChainWithWritableBuffersBreaksTheQueue() {
        txDriver.descriptor(0, TX_BUF, 72, Virtqueue.DESC_F_NEXT, 1);
        txDriver.descriptor(1, TX_BUF + 0x1000, 16, Virtqueue.DESC_F_WRITE, 0);
        txDriver.offer(0);
        net.processQueue(VirtioNet.TX_QUEUE);
        assertTrue(txQueue.isBroken());
        assertTrue(backend.sent.isEmpty());
    }

    @Test
    void receiveWritesHeaderThenFrame() {
        int d = postRx(2048);
        byte[] f = frame(100, 3);
        assertTrue(backend.sink.deliver(ByteBuffer.wrap(f)));
        assertEquals(1, rxDriver.usedIdx());
        assertArrayEquals(new int[] {d, 112}, rxDriver.usedElement(0));
        byte[] got = rxBuffer(d, 112);
        byte[] header = new byte[12];
        header[10] = 1; // num_buffers = 1, everything else zero
        assertArrayEquals(header, Arrays.copyOfRange(got, 0, 12));
        assertArrayEquals(f, Arrays.copyOfRange(got, 12, 112));
        assertEquals(1, rxInterrupts.get());
        assertEquals(1, net.rxFrames());
    }

    @Test
    void receiveHonoursTheBufferPositionAndLimit() {
        postRx(2048);
        byte[] f = frame(200, 4);
        ByteBuffer b = ByteBuffer.wrap(f, 50, 100);
        assertTrue(backend.sink.deliver(b));
        assertEquals(50, b.position(), "the sink does not consume the caller's buffer");
        assertArrayEquals(Arrays.copyOfRange(f, 50, 150), Arrays.copyOfRange(rxBuffer(0, 112), 12, 112));
    }

    @Test
    void framesWaitForBuffersUpToTheLimitAndDrainInOrder() {
        int total = VirtioNet.PENDING_FRAMES + 44;
        int accepted = 0;
        for (int i = 0; i < total; i++) {
            if (backend.sink.deliver(ByteBuffer.wrap(frame(60 + i % 100, i)))) {
                accepted++;
            }
        }
        assertEquals(VirtioNet.PENDING_FRAMES, accepted);
        assertEquals(44, net.rxDroppedFull());
        assertEquals(VirtioNet.PENDING_FRAMES, net.rxPending());
        assertEquals(0, rxInterrupts.get());

        // The guest posts buffers and notifies; the oldest frames come first.
        int delivered = 0;
        for (int round = 0; round < VirtioNet.PENDING_FRAMES / 8; round++) {
            int[] ds = new int[8];
            for (int k = 0; k < 8; k++) {
                ds[k] = postRx(2048);
            }
            net.processQueue(VirtioNet.RX_QUEUE);
            for (int k = 0; k < 8; k++) {
                int n = delivered++;
                int[] elem = rxDriver.usedElement(n);
                assertEquals(ds[k], elem[0]);
                int len = 60 + n % 100;
                assertEquals(12 + len, elem[1]);
                assertArrayEquals(frame(len, n), Arrays.copyOfRange(rxBuffer(ds[k], 12 + len), 12, 12 + len),
                        "frame " + n);
            }
        }
        assertEquals(0, net.rxPending());
        assertEquals(VirtioNet.PENDING_FRAMES, net.rxFrames());
        assertEquals(VirtioNet.PENDING_FRAMES / 8, rxInterrupts.get(), "one interrupt per batch");
    }

    @Test
    void receiveAsksForANotificationWhenItRunsOutOfBuffers() {
        backend.sink.deliver(ByteBuffer.wrap(frame(60, 0)));
        // With EVENT_IDX the device publishes avail_event = the next entry it wants (§2.7.10).
        assertEquals(0, rxDriver.availEvent());
        postRx(2048);
        net.processQueue(VirtioNet.RX_QUEUE);
        backend.sink.deliver(ByteBuffer.wrap(frame(60, 1)));
        assertEquals(1, rxDriver.availEvent());
    }

    @Test
    void invalidFrameLengthsAreDroppedAndCounted() {
        postRx(2048);
        assertFalse(backend.sink.deliver(ByteBuffer.wrap(new byte[13])));
        assertFalse(backend.sink.deliver(ByteBuffer.allocate(VirtioNet.MAX_FRAME_SIZE + 1)));
        assertEquals(2, net.rxDroppedInvalid());
        assertEquals(0, rxDriver.usedIdx());
        assertTrue(backend.sink.deliver(ByteBuffer.wrap(new byte[14])), "an Ethernet header alone is fine");
        assertEquals(1, rxDriver.usedIdx());
    }

    @Test
    void aBufferTooSmallGoesBackEmptyAndTheNextFrameUsesTheNextBuffer() {
        int small = postRx(12 + 100);
        int big = postRx(2048);
        backend.sink.deliver(ByteBuffer.wrap(frame(200, 5)));
        assertArrayEquals(new int[] {small, 0}, rxDriver.usedElement(0));
        assertEquals(1, net.rxDroppedTooBig());
        backend.sink.deliver(ByteBuffer.wrap(frame(100, 6)));
        assertArrayEquals(new int[] {big, 112}, rxDriver.usedElement(1));
        assertFalse(rxQueue.isBroken());
    }

    /** Re-activates with MRG_RXBUF negotiated, on fresh rings (as after a driver reset). */
    private void mergeable() {
        net.reset();
        rxDriver = new QueueDriver(rxDriver, 16, QueueDriver.RAM_BASE + 0x6000);
        txDriver = new QueueDriver(rxDriver, 16, QueueDriver.RAM_BASE + 0x8000);
        rxPosted = 0;
        activate(FEATURES | Virtio.bit(VirtioNet.F_MRG_RXBUF));
    }

    @Test
    void mergeableBuffersCarryALargeFrameAcrossSeveralChains() {
        mergeable();
        int a = postRx(1000);
        int b = postRx(1000);
        int c = postRx(1000);
        int d = postRx(1000);
        byte[] f = frame(2500, 10);
        assertTrue(backend.sink.deliver(ByteBuffer.wrap(f)));
        assertEquals(3, rxDriver.usedIdx(), "12 + 2500 bytes take three 1000-byte chains, published together");
        assertArrayEquals(new int[] {a, 1000}, rxDriver.usedElement(0), "all but the last are filled completely");
        assertArrayEquals(new int[] {b, 1000}, rxDriver.usedElement(1));
        assertArrayEquals(new int[] {c, 512}, rxDriver.usedElement(2));
        byte[] first = rxBuffer(a, 1000);
        assertEquals(3, first[10] | first[11] << 8, "num_buffers");
        byte[] joined = new byte[2512];
        System.arraycopy(first, 0, joined, 0, 1000);
        System.arraycopy(rxBuffer(b, 1000), 0, joined, 1000, 1000);
        System.arraycopy(rxBuffer(c, 512), 0, joined, 2000, 512);
        assertArrayEquals(f, Arrays.copyOfRange(joined, 12, 2512));
        assertEquals(1, rxInterrupts.get());

        // A small frame takes one chain, with num_buffers 1.
        backend.sink.deliver(ByteBuffer.wrap(frame(60, 11)));
        assertArrayEquals(new int[] {d, 72}, rxDriver.usedElement(3));
        assertEquals(1, rxBuffer(d, 12)[10]);
    }

    @Test
    void aMergedFrameWaitsUntilEnoughChainsArePosted() {
        mergeable();
        postRx(1000);
        backend.sink.deliver(ByteBuffer.wrap(frame(1500, 12)));
        assertEquals(0, rxDriver.usedIdx(), "no partial frame is published");
        assertEquals(1, net.rxPending());
        postRx(1000);
        net.processQueue(VirtioNet.RX_QUEUE);
        assertEquals(2, rxDriver.usedIdx());
        assertEquals(1000, rxDriver.usedElement(0)[1]);
        assertEquals(512, rxDriver.usedElement(1)[1]);
        assertEquals(0, net.rxPending());
    }

    @Test
    void aFrameLargerThanTheWholeRingIsDroppedAndTheChainsGoBackEmpty() {
        mergeable();
        for (int i = 0; i < 16; i++) {
            postRx(64);
        }
        // 16 chains of 64 bytes hold 1024 bytes; this frame needs 12 + 2000.
        backend.sink.deliver(ByteBuffer.wrap(frame(2000, 13)));
        assertEquals(16, rxDriver.usedIdx());
        for (int i = 0; i < 16; i++) {
            assertEquals(0, rxDriver.usedElement(i)[1]);
        }
        assertEquals(1, net.rxDroppedTooBig());
        assertEquals(0, net.rxFrames());
        assertFalse(rxQueue.isBroken());
    }

    @Test
    void withMergeableBuffersAChainShorterThanTheHeaderBreaksTheQueue() {
        mergeable();
        postRx(11);
        backend.sink.deliver(ByteBuffer.wrap(frame(60, 14)));
        assertTrue(rxQueue.isBroken());
        assertTrue(violations.get(0).contains("shorter than the 12-byte header"), violations.get(0));
    }

    @Test
    void aReceiveChainWithReadableBuffersBreaksTheQueue() {
        rxDriver.descriptor(0, RX_BUF, 2048, 0, 0);
        rxDriver.offer(0);
        backend.sink.deliver(ByteBuffer.wrap(frame(60, 7)));
        assertTrue(rxQueue.isBroken());
        assertEquals(1, violations.size());
    }

    @Test
    void framesBeforeActivationOrAfterResetAreDropped() {
        net.reset();
        assertFalse(backend.sink.deliver(ByteBuffer.wrap(frame(60, 8))));
        assertEquals(1, net.rxDroppedFull());
        net.processQueue(VirtioNet.RX_QUEUE);
        net.processQueue(VirtioNet.TX_QUEUE);
    }

    @Test
    void resetForgetsPendingFrames() {
        backend.sink.deliver(ByteBuffer.wrap(frame(60, 9)));
        assertEquals(1, net.rxPending());
        net.reset();
        assertEquals(0, net.rxPending());
    }

    @Test
    void concurrentDeliveryAndBufferPostingLoseNothingUncounted() throws Exception {
        // The backend thread delivers while the "worker" posts buffers and processes queue 0. A
        // refused frame (no buffer, pending queue full) is counted as dropped by the device; the
        // producer then offers it again, so in the end every frame arrives exactly once, in order,
        // and the device's drop counter equals the refusals the producer saw — whatever the
        // scheduling of the two threads.
        int frames = 2000;
        long[] refused = new long[1];
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
        Thread producer = new Thread(() -> {
            for (int i = 0; i < frames; i++) {
                while (!backend.sink.deliver(ByteBuffer.wrap(numbered(i)))) {
                    refused[0]++;
                    if (System.nanoTime() > deadline) {
                        return;
                    }
                    Thread.onSpinWait();
                }
            }
        });
        producer.start();
        int seen = 0;
        List<Integer> order = new ArrayList<>();
        boolean producing;
        do {
            // Read before draining: the producer fills posted buffers itself, so the frames it
            // delivered just before it ended are in the used ring, and this pass must still read
            // them (its termination, seen through isAlive, makes its writes visible here).
            producing = producer.isAlive();
            // Only this thread touches the driver side; a descriptor is reposted only after its
            // used entry was read below.
            if (((rxPosted - seen) & 0xffff) < 16) {
                postRx(2048);
            }
            net.processQueue(VirtioNet.RX_QUEUE);
            while (seen != rxDriver.usedIdx()) {
                int[] elem = rxDriver.usedElement(seen);
                byte[] payload = Arrays.copyOfRange(rxBuffer(elem[0], 12 + 64), 12, 12 + 64);
                order.add(ByteBuffer.wrap(payload).getInt());
                seen = (seen + 1) & 0xffff;
            }
        } while (producing || net.rxPending() > 0);
        producer.join();
        assertEquals(frames, order.size(), "every frame arrives once it is accepted");
        for (int i = 0; i < frames; i++) {
            assertEquals(i, order.get(i), "frames arrive in the order they were delivered");
        }
        assertEquals(frames, net.rxFrames());
        assertEquals(refused[0], net.rxDroppedFull(), "every refusal is counted, nothing else is");
        assertEquals(0, net.rxPending());
    }
}
