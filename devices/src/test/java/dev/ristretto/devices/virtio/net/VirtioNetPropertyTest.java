package dev.ristretto.devices.virtio.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.devices.virtio.QueueDriver;
import dev.ristretto.devices.virtio.Virtio;
import dev.ristretto.devices.virtio.VirtioInterrupt;
import dev.ristretto.devices.virtio.Virtqueue;
import dev.ristretto.vmm.memory.GuestAddress;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * Random receive buffers and random frames, with and without mergeable buffers: whatever the
 * guest posts, each frame either arrives whole (reassembled from the used chains exactly as
 * Linux's receive_mergeable would) or is counted as dropped, every chain the device returns
 * was posted, and nothing outside guest RAM is touched.
 */
class VirtioNetPropertyTest {

    private static final long BUF = QueueDriver.RAM_BASE + 0x2_0000;
    private static final int SLOT = 0x1_0000; // room for the largest buffer we post
    private static final long BASE = Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_EVENT_IDX);

    @Test
    void everyFrameArrivesWholeOrIsCounted() {
        Random r = new Random(0x4e7);
        long totalReceived = 0;
        long totalTooBig = 0;
        long multiBuffer = 0;
        for (int trial = 0; trial < 60; trial++) {
            boolean merge = r.nextBoolean();
            long features = BASE | (merge ? Virtio.bit(VirtioNet.F_MRG_RXBUF) : 0);
            try (Arena arena = Arena.ofConfined()) {
                QueueDriver rx = new QueueDriver(arena, 8);
                QueueDriver tx = new QueueDriver(rx, 8, QueueDriver.RAM_BASE + 0x1000 + 0x800);
                NetBackend backend = new NetBackend() {
                    @Override
                    public void send(ByteBuffer frame) {
                    }

                    @Override
                    public void start(FrameSink sink) {
                    }

                    @Override
                    public void close() {
                    }
                };
                VirtioNet net = new VirtioNet(backend, new byte[] {2, 0, 0, 0, 0, 1});
                Virtqueue rq = rx.queue(0, 256, features, (q, why) -> { });
                Virtqueue tq = tx.queue(1, 256, features, (q, why) -> { });
                net.activate(rx.memory, List.of(rq, tq), features, new VirtioInterrupt() {
                    @Override
                    public void usedBuffers(int queue) {
                    }

                    @Override
                    public void configChanged() {
                    }
                });

                int[] postedLen = new int[8];
                boolean[] outstanding = new boolean[8];
                List<byte[]> sent = new ArrayList<>();
                List<byte[]> received = new ArrayList<>();
                int seen = 0;
                ByteBuffer assembling = null;
                int buffersLeft = 0;
                for (int step = 0; step < 200; step++) {
                    if (r.nextBoolean()) {
                        // Post every free descriptor with a random size, sometimes tiny.
                        for (int d = 0; d < 8; d++) {
                            if (!outstanding[d] && r.nextInt(3) > 0) {
                                int len = switch (r.nextInt(4)) {
                                    // Tiny buffers; with MRG_RXBUF at least a header (§5.1.6.3.1).
                                    case 0 -> (merge ? VirtioNet.HEADER_SIZE : 0) + r.nextInt(40);
                                    case 1 -> 1526;
                                    case 2 -> 4096;
                                    default -> 1 + r.nextInt(SLOT - 1);
                                };
                                postedLen[d] = len;
                                outstanding[d] = true;
                                rx.descriptor(d, BUF + (long) SLOT * d, len, Virtqueue.DESC_F_WRITE, 0);
                                rx.offer(d);
                            }
                        }
                        net.processQueue(VirtioNet.RX_QUEUE);
                    } else {
                        int len = r.nextInt(10) == 0 ? r.nextInt(14) : 14 + r.nextInt(r.nextBoolean() ? 1500 : 9000);
                        byte[] f = new byte[len];
                        r.nextBytes(f);
                        if (net.deliver(ByteBuffer.wrap(f))) {
                            sent.add(f);
                        }
                    }
                    // Read what the device returned, as the driver would.
                    while (seen != rx.usedIdx()) {
                        int[] e = rx.usedElement(seen++);
                        int d = e[0];
                        assertTrue(d >= 0 && d < 8 && outstanding[d], "trial " + trial + ": returned " + d);
                        assertTrue(Integer.compareUnsigned(e[1], postedLen[d]) <= 0, "used length within the buffer");
                        outstanding[d] = false;
                        byte[] data = rx.memory.read(GuestAddress.of(BUF + (long) SLOT * d), e[1]);
                        if (assembling == null) {
                            if (e[1] < VirtioNet.HEADER_SIZE) {
                                assertEquals(0, e[1], "a returned-empty chain");
                                continue;
                            }
                            int n = (data[10] & 0xff) | (data[11] & 0xff) << 8;
                            assertTrue(n >= 1 && (merge || n == 1), "num_buffers " + n);
                            assembling = ByteBuffer.allocate(VirtioNet.MAX_FRAME_SIZE + VirtioNet.HEADER_SIZE);
                            buffersLeft = n;
                            multiBuffer += n > 1 ? 1 : 0;
                        } else if (buffersLeft > 1) {
                            // Every buffer but the last of a merged frame is full (§5.1.6.4.1).
                            assertTrue(e[1] > 0);
                        }
                        assembling.put(data);
                        if (--buffersLeft == 0) {
                            assembling.flip();
                            byte[] pkt = new byte[assembling.remaining()];
                            assembling.get(pkt);
                            received.add(Arrays.copyOfRange(pkt, VirtioNet.HEADER_SIZE, pkt.length));
                            assembling = null;
                        }
                    }
                }
                assertTrue(rx.guardsIntact());
                // Received frames are the accepted ones, in order, minus the ones counted as too big
                // and the ones still pending.
                assertEquals(sent.size(), received.size() + net.rxDroppedTooBig() + net.rxPending(),
                        "trial " + trial);
                int k = 0;
                for (byte[] f : received) {
                    while (k < sent.size() && !Arrays.equals(sent.get(k), f)) {
                        k++;
                    }
                    assertTrue(k < sent.size(), "trial " + trial + ": a received frame was never sent");
                    k++;
                }
                if (!merge) {
                    for (byte[] f : received) {
                        assertTrue(f.length >= VirtioNet.MIN_FRAME_SIZE);
                    }
                }
                assertEquals(0, rq.violations(), "trial " + trial);
                totalReceived += received.size();
                totalTooBig += net.rxDroppedTooBig();
            }
        }
        // The generator reaches every path, so the property is not vacuous.
        assertTrue(totalReceived > 100, "received " + totalReceived);
        assertTrue(totalTooBig > 10, "too big " + totalTooBig);
        assertTrue(multiBuffer > 10, "merged frames " + multiBuffer);
    }
}
