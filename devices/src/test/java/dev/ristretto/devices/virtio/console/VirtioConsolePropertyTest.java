package dev.ristretto.devices.virtio.console;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.devices.virtio.QueueDriver;
import dev.ristretto.devices.virtio.Virtio;
import dev.ristretto.devices.virtio.VirtioInterrupt;
import dev.ristretto.devices.virtio.Virtqueue;
import dev.ristretto.vmm.memory.GuestAddress;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * Host input in random chunks against receive buffers of random sizes posted at random times:
 * the bytes the guest reads, in used-ring order, are exactly the bytes {@link
 * VirtioConsole#enqueue} accepted, and what it did not accept was refused only when the host
 * queue was full.
 */
class VirtioConsolePropertyTest {

    private static final long BUF = QueueDriver.RAM_BASE + 0x2_0000;
    private static final long FEATURES = Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_EVENT_IDX);

    @Test
    void theGuestReadsExactlyTheAcceptedInputInOrder() {
        Random r = new Random(0xc0de);
        for (int trial = 0; trial < 50; trial++) {
            try (Arena arena = Arena.ofConfined()) {
                QueueDriver rx = new QueueDriver(arena, 8);
                QueueDriver tx = new QueueDriver(rx, 8, QueueDriver.RAM_BASE + 0x1800);
                int capacity = 1 + r.nextInt(300);
                VirtioConsole console = new VirtioConsole(ConsoleSink.DISCARD, capacity);
                Virtqueue rq = rx.queue(0, 256, FEATURES, (q, why) -> { });
                console.activate(rx.memory, List.of(rq, tx.queue(1, 256, FEATURES, (q, why) -> { })), FEATURES,
                        new VirtioInterrupt() {
                            @Override
                            public void usedBuffers(int queue) {
                            }

                            @Override
                            public void configChanged() {
                            }
                        });
                ByteArrayOutputStream accepted = new ByteArrayOutputStream();
                ByteArrayOutputStream read = new ByteArrayOutputStream();
                boolean[] outstanding = new boolean[8];
                int[] posted = new int[8];
                int seen = 0;
                for (int step = 0; step < 300; step++) {
                    if (r.nextBoolean()) {
                        byte[] chunk = new byte[r.nextInt(200)];
                        r.nextBytes(chunk);
                        int queuedBefore = console.hostQueued();
                        int n = console.enqueue(chunk, 0, chunk.length);
                        accepted.write(chunk, 0, n);
                        assertTrue(n == chunk.length || queuedBefore + n == capacity, "refused input only when full");
                    } else {
                        for (int d = 0; d < 8; d++) {
                            if (!outstanding[d] && r.nextBoolean()) {
                                posted[d] = 1 + r.nextInt(100);
                                outstanding[d] = true;
                                rx.descriptor(d, BUF + 0x100L * d, posted[d], Virtqueue.DESC_F_WRITE, 0);
                                rx.offer(d);
                            }
                        }
                        console.processQueue(VirtioConsole.RX_QUEUE);
                    }
                    while (seen != rx.usedIdx()) {
                        int[] e = rx.usedElement(seen++);
                        assertTrue(outstanding[e[0]]);
                        assertTrue(e[1] >= 1 && e[1] <= posted[e[0]], "used length " + e[1]);
                        outstanding[e[0]] = false;
                        read.writeBytes(rx.memory.read(GuestAddress.of(BUF + 0x100L * e[0]), e[1]));
                    }
                }
                byte[] in = accepted.toByteArray();
                byte[] out = read.toByteArray();
                assertEquals(in.length, out.length + console.hostQueued(), "trial " + trial);
                assertArrayEquals(Arrays.copyOf(in, out.length), out, "trial " + trial);
                assertTrue(rx.guardsIntact());
            }
        }
    }
}
