package dev.ristretto.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.memory.GuestAddress;

import java.lang.foreign.Arena;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

/**
 * Random descriptor tables, rings and indices, biased towards the interesting values (addresses
 * near the ends of RAM, small next indices that make loops, every flag combination). Whatever
 * the guest writes, the queue code must not throw, must not hang, must hand out only buffers
 * inside guest RAM that obey the framing rules, and must not touch a byte outside guest RAM.
 */
class VirtqueuePropertyTest {

    private static final int CASES = 3000;

    @Test
    void randomGuestDataNeverEscapesTheQueue() {
        long seed = Long.getLong("ristretto.seed", 0x5eed_0001L);
        Random rnd = new Random(seed);
        int chainsSeen = 0;
        int broken = 0;
        for (int n = 0; n < CASES; n++) {
            try (Arena arena = Arena.ofConfined()) {
                int size = 1 << rnd.nextInt(6);
                QueueDriver d = new QueueDriver(arena, size);
                long features = rnd.nextLong() & (Virtio.bit(Virtio.F_INDIRECT_DESC)
                        | Virtio.bit(Virtio.F_EVENT_IDX) | Virtio.bit(Virtio.F_VERSION_1));
                AtomicLong heard = new AtomicLong();
                Virtqueue q = d.queue(size, features, (queue, reason) -> heard.incrementAndGet());
                long table = QueueDriver.RAM_BASE + 0x4_0000;
                // Half the cases are a mostly well-behaved driver, so valid chains get checked too.
                boolean sane = rnd.nextBoolean();
                for (int i = 0; i < size; i++) {
                    randomDescriptor(rnd, sane, d, d.desc, i, size);
                }
                for (int i = 0; i < 8; i++) {
                    randomDescriptor(rnd, sane, d, table, i, 8);
                }
                for (int i = 0; i < size; i++) {
                    d.memory.writeShort(GuestAddress.of(d.avail + 4 + 2L * i),
                            (short) (rnd.nextInt(4) == 0 ? rnd.nextInt(0x10000) : rnd.nextInt(size)));
                }
                d.setUsedEvent(rnd.nextInt(0x10000));
                d.setAvailFlags(rnd.nextInt(2));
                d.setAvailIdx(rnd.nextInt(8) == 0 ? rnd.nextInt(0x10000) : rnd.nextInt(size + 1));

                String context = "seed " + seed + " case " + n;
                for (int step = 0; step < 2 * size + 2; step++) {
                    DescriptorChain c = q.pop();
                    if (c == null) {
                        break;
                    }
                    chainsSeen++;
                    checkChain(d, c, context);
                    int written = c.write(0, new byte[(int) Math.min(c.writableLength(), 64)]);
                    q.addUsed(c.head(), written);
                    q.needsNotification();
                    q.enableNotification();
                }
                if (q.isBroken()) {
                    broken++;
                    assertEquals(q.violations(), heard.get(), context);
                    assertEquals(1, q.violations(), context + ": a broken queue counts once");
                }
                assertTrue(d.guardsIntact(), context + ": touched memory outside guest RAM");
            }
        }
        // The generator must exercise both outcomes, or the property says little.
        assertTrue(chainsSeen > CASES / 4, "valid chains generated: " + chainsSeen);
        assertTrue(broken > CASES / 4, "broken queues generated: " + broken);
    }

    private static void randomDescriptor(Random rnd, boolean sane, QueueDriver d, long table, int i,
            int tableSize) {
        if (sane && rnd.nextInt(8) != 0) {
            int flags = (rnd.nextBoolean() ? Virtqueue.DESC_F_WRITE : 0)
                    | (rnd.nextInt(4) == 0 ? Virtqueue.DESC_F_NEXT : 0);
            d.descriptor(table, i, QueueDriver.RAM_BASE + 0x8_0000 + rnd.nextInt(0x1000), rnd.nextInt(256),
                    flags, rnd.nextInt(tableSize));
            return;
        }
        long ramEnd = QueueDriver.RAM_BASE + QueueDriver.RAM_SIZE;
        long addr = switch (rnd.nextInt(6)) {
            case 0 -> rnd.nextLong();
            case 1 -> ramEnd - rnd.nextInt(64);
            case 2 -> QueueDriver.RAM_BASE - rnd.nextInt(64);
            case 3 -> QueueDriver.RAM_BASE + 0x4_0000; // the indirect table
            default -> QueueDriver.RAM_BASE + 0x8_0000 + rnd.nextInt(0x1000);
        };
        int len = switch (rnd.nextInt(5)) {
            case 0 -> rnd.nextInt();
            case 1 -> 16 * rnd.nextInt(10);
            default -> rnd.nextInt(256);
        };
        int flags = rnd.nextInt(8);
        int next = rnd.nextInt(4) == 0 ? rnd.nextInt(0x10000) : rnd.nextInt(tableSize);
        d.descriptor(table, i, addr, len, flags, next);
    }

    private static void checkChain(QueueDriver d, DescriptorChain c, String context) {
        assertTrue(c.readableLength() + c.writableLength() <= 0xffff_ffffL, context + ": total length");
        for (DescriptorChain.Buffer b : c.readable()) {
            assertTrue(!b.writable() && d.memory.contains(b.address(), b.unsignedLength()), context + " " + b);
        }
        for (DescriptorChain.Buffer b : c.writable()) {
            assertTrue(b.writable() && d.memory.contains(b.address(), b.unsignedLength()), context + " " + b);
        }
    }
}
