package dev.ristretto.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.memory.GuestRegion;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class VirtqueueTest {

    private static final long ALL = Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_INDIRECT_DESC)
            | Virtio.bit(Virtio.F_EVENT_IDX);
    private static final long NO_EVENT_IDX = ALL & ~Virtio.bit(Virtio.F_EVENT_IDX);
    private static final long BUF = QueueDriver.RAM_BASE + 0x8_0000;

    private Arena arena;
    private final List<String> violations = new ArrayList<>();
    private final Virtqueue.ViolationListener listener = (q, reason) -> violations.add(reason);

    @BeforeEach
    void setUp() {
        arena = Arena.ofConfined();
    }

    @AfterEach
    void tearDown() {
        arena.close();
    }

    @Test
    void aBatchOfUsedElementsIsPublishedTogetherAcrossTheWrap() {
        QueueDriver d = new QueueDriver(arena, 4);
        Virtqueue q = d.queue(4, ALL, listener);
        for (int i = 0; i < 4; i++) {
            d.descriptor(i, BUF + 0x100L * i, 64, Virtqueue.DESC_F_WRITE, 0);
        }
        d.offer(0);
        d.offer(1);
        d.offer(2);
        assertNotNull(q.pop());
        assertNotNull(q.pop());
        assertNotNull(q.pop());
        q.addUsed(new int[] {0, 1}, new int[] {64, 10}, 2);
        assertEquals(2, d.usedIdx());
        d.offer(3);
        d.offer(0);
        assertNotNull(q.pop());
        assertNotNull(q.pop());
        // Three elements that run over the end of the 4-entry ring, one index store.
        q.addUsed(new int[] {2, 3, 0, 99}, new int[] {1, 2, 3, 99}, 3);
        assertEquals(5, d.usedIdx());
        assertArrayEquals(new int[] {2, 1}, d.usedElement(2));
        assertArrayEquals(new int[] {3, 2}, d.usedElement(3));
        assertArrayEquals(new int[] {0, 3}, d.usedElement(4));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> q.addUsed(new int[] {0, 1, 2, 3, 0}, new int[5], 5), "more elements than the ring holds");
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> q.addUsed(new int[] {4}, new int[1], 1), "an id beyond the queue is our bug");
        assertEquals(5, d.usedIdx());
        assertTrue(violations.isEmpty());
    }

    @Test
    void aDeviceTypeViolationBreaksTheQueueOnceAndIsReported() {
        QueueDriver d = new QueueDriver(arena, 8);
        Virtqueue q = d.queue(8, ALL, listener);
        d.descriptor(0, BUF, 4, 0, 0);
        d.offer(0);
        d.offer(0);
        assertNotNull(q.pop());
        q.deviceTypeViolation("request without a status byte");
        assertTrue(q.isBroken());
        assertEquals(List.of("request without a status byte"), violations);
        assertEquals(1, q.violations());
        assertNull(q.pop(), "a broken queue yields nothing");
        q.deviceTypeViolation("again");
        assertEquals(1, violations.size(), "already broken: not reported twice");
        q.reset();
        q.deviceTypeViolation("inactive");
        assertFalse(q.isBroken(), "an inactive queue has no chains to complain about");
    }

    @Test
    void popsAReadThenWriteChainAndPublishesTheUsedElement() {
        QueueDriver d = new QueueDriver(arena, 8);
        Virtqueue q = d.queue(8, ALL, listener);
        d.memory.write(GuestAddress.of(BUF), new byte[] {1, 2, 3, 4, 5, 6});
        d.descriptor(3, BUF, 4, Virtqueue.DESC_F_NEXT, 5);
        d.descriptor(5, BUF + 4, 2, Virtqueue.DESC_F_NEXT, 1);
        d.descriptor(1, BUF + 0x100, 16, Virtqueue.DESC_F_WRITE, 0);
        d.offer(3);

        DescriptorChain c = q.pop();
        assertNotNull(c);
        assertEquals(3, c.head());
        assertEquals(2, c.readable().size());
        assertEquals(6, c.readableLength());
        assertEquals(1, c.writable().size());
        assertEquals(16, c.writableLength());
        byte[] got = new byte[8];
        assertEquals(6, c.read(0, got), "reads stop at the end of the readable part");
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 0, 0}, got);
        byte[] tail = new byte[3];
        assertEquals(3, c.read(3, tail), "reads cross buffer boundaries");
        assertArrayEquals(new byte[] {4, 5, 6}, tail);
        assertEquals(16, c.write(0, new byte[20]), "writes stop at the end of the writable part");
        assertNull(q.pop(), "one chain was offered");

        q.addUsed(c.head(), 16);
        assertEquals(1, d.usedIdx());
        assertArrayEquals(new int[] {3, 16}, d.usedElement(0));
        assertEquals(List.of(), violations);
        assertTrue(d.guardsIntact());
    }

    @Test
    void followsAnIndirectTableAfterDirectDescriptors() {
        QueueDriver d = new QueueDriver(arena, 4);
        Virtqueue q = d.queue(4, ALL, listener);
        long table = BUF + 0x1000;
        // VIRTIO 1.2 §2.7.5.3.2: zero or more direct descriptors, then one indirect one.
        d.descriptor(0, BUF, 8, Virtqueue.DESC_F_NEXT, 2);
        d.descriptor(2, table, 48, Virtqueue.DESC_F_INDIRECT | Virtqueue.DESC_F_WRITE, 0);
        d.descriptor(table, 0, BUF + 8, 8, Virtqueue.DESC_F_NEXT, 2);
        d.descriptor(table, 2, BUF + 0x200, 100, Virtqueue.DESC_F_WRITE | Virtqueue.DESC_F_NEXT, 1);
        d.descriptor(table, 1, BUF + 0x300, 28, Virtqueue.DESC_F_WRITE, 0);
        d.offer(0);

        DescriptorChain c = q.pop();
        assertNotNull(c);
        assertEquals(16, c.readableLength());
        assertEquals(128, c.writableLength());
        assertEquals(List.of(GuestAddress.of(BUF + 0x200), GuestAddress.of(BUF + 0x300)),
                c.writable().stream().map(DescriptorChain.Buffer::address).toList());
        assertEquals(List.of(), violations);
    }

    @Test
    void eventIndexDecidesNotificationsAcrossTheU16Wrap() {
        // vring_need_event: notify when used_event lies in (old, new].
        assertTrue(Virtqueue.needEvent(0xffff, 0x0000, 0xfffe), "event at 0xffff, idx wrapped to 0");
        assertTrue(Virtqueue.needEvent(0xfffe, 0x0001, 0xfffe), "event just after old");
        assertFalse(Virtqueue.needEvent(0x0001, 0x0001, 0xfffe), "event not yet reached");
        assertFalse(Virtqueue.needEvent(0xfffd, 0x0001, 0xfffe), "event before the window");
        assertTrue(Virtqueue.needEvent(0x0000, 0x0001, 0xffff));

        QueueDriver d = new QueueDriver(arena, 4);
        Virtqueue q = d.queue(4, ALL, listener);
        d.descriptor(0, BUF, 4, Virtqueue.DESC_F_WRITE, 0);
        // Drive the u16 indices through 0xffff -> 0. Near the wrap, alternate a used_event the
        // step just passed (must notify) with one not yet reached (must not).
        int checked = 0;
        for (int n = 0; n < 0x10000 + 6; n++) {
            d.offer(0);
            DescriptorChain c = q.pop();
            assertNotNull(c, "chain " + n);
            q.addUsed(c.head(), 4);
            int newUsed = (n + 1) & 0xffff;
            boolean wantInterrupt = n % 2 == 0;
            d.setUsedEvent(wantInterrupt ? (newUsed - 1) & 0xffff : newUsed);
            boolean needed = q.needsNotification();
            if (n == 0) {
                assertTrue(needed, "the first decision always notifies");
            } else if (n >= 0xfff8) {
                assertEquals(wantInterrupt, needed, "at used idx 0x" + Integer.toHexString(newUsed));
                checked++;
            }
        }
        assertEquals(14, checked);
        assertEquals(6, d.usedIdx(), "used idx wrapped through 0xffff to 6");
        assertEquals(6, q.nextAvail());
        assertEquals(List.of(), violations);
    }

    @Test
    void eventIndexSuppressesNotificationsUntilUsedEventIsPassed() {
        QueueDriver d = new QueueDriver(arena, 8);
        Virtqueue q = d.queue(8, ALL, listener);
        d.descriptor(0, BUF, 4, Virtqueue.DESC_F_WRITE, 0);
        for (int i = 0; i < 3; i++) {
            d.offer(0);
            q.addUsed(q.pop().head(), 0);
        }
        d.setUsedEvent(5);
        assertTrue(q.needsNotification(), "first decision");
        d.offer(0);
        q.addUsed(q.pop().head(), 0); // used idx 4
        assertFalse(q.needsNotification(), "used_event 5 not reached at 4");
        d.offer(0);
        q.addUsed(q.pop().head(), 0); // used idx 5
        assertFalse(q.needsNotification(), "used_event 5 is reached only when idx passes it: 5 -> 6");
        d.offer(0);
        q.addUsed(q.pop().head(), 0); // used idx 6
        assertTrue(q.needsNotification(), "idx moved past used_event");
    }

    @Test
    void withoutEventIndexTheNoInterruptFlagDecides() {
        QueueDriver d = new QueueDriver(arena, 8);
        Virtqueue q = d.queue(8, NO_EVENT_IDX, listener);
        d.descriptor(0, BUF, 4, Virtqueue.DESC_F_WRITE, 0);
        d.offer(0);
        q.addUsed(q.pop().head(), 0);
        assertTrue(q.needsNotification());
        d.setAvailFlags(Virtqueue.AVAIL_F_NO_INTERRUPT);
        assertFalse(q.needsNotification());
    }

    @Test
    void notificationSuppressionIsVisibleToTheDriver() {
        QueueDriver d = new QueueDriver(arena, 8);
        Virtqueue plain = d.queue(8, NO_EVENT_IDX, listener);
        plain.disableNotification();
        assertEquals(Virtqueue.USED_F_NO_NOTIFY, d.usedFlags());
        assertFalse(plain.enableNotification(), "nothing pending");
        assertEquals(0, d.usedFlags());
        d.descriptor(0, BUF, 4, 0, 0);
        d.offer(0);
        assertTrue(plain.enableNotification(), "a chain arrived: the device loop must go on");

        QueueDriver e = new QueueDriver(arena, 8);
        Virtqueue withEvent = e.queue(8, ALL, listener);
        e.descriptor(0, BUF, 4, 0, 0);
        e.offer(0);
        e.offer(0);
        withEvent.pop();
        withEvent.pop();
        assertFalse(withEvent.enableNotification());
        assertEquals(2, e.availEvent(), "avail_event names the next entry the device will read");
    }

    @Test
    void processAvailableServesChainsAddedWhileItRunsAndReportsTheirLengths() {
        QueueDriver d = new QueueDriver(arena, 8);
        Virtqueue q = d.queue(8, NO_EVENT_IDX, listener);
        for (int i = 0; i < 3; i++) {
            d.descriptor(i, BUF + 0x100L * i, 64, Virtqueue.DESC_F_WRITE, 0);
        }
        d.offer(0);
        List<Integer> served = new ArrayList<>();
        List<Integer> flagsSeen = new ArrayList<>();
        boolean notify = q.processAvailable(chain -> {
            served.add(chain.head());
            flagsSeen.add(d.usedFlags());
            if (chain.head() == 0) {
                d.offer(1); // the driver adds chains while the device works
                d.offer(2);
            }
            return 10L + chain.head();
        });
        assertTrue(notify, "chains were used");
        assertEquals(List.of(0, 1, 2), served);
        assertEquals(List.of(Virtqueue.USED_F_NO_NOTIFY, Virtqueue.USED_F_NO_NOTIFY, Virtqueue.USED_F_NO_NOTIFY),
                flagsSeen, "notifications are suppressed while the device drains");
        assertEquals(0, d.usedFlags(), "and enabled again when it stops");
        assertEquals(3, d.usedIdx());
        assertArrayEquals(new int[] {0, 10}, d.usedElement(0));
        assertArrayEquals(new int[] {2, 12}, d.usedElement(2));
        assertFalse(q.processAvailable(chain -> 0), "nothing available: nothing to tell the driver");
        assertEquals(List.of(), violations);
    }

    @Test
    void processAvailableStopsWhenTheHandlerBreaksTheQueue() {
        QueueDriver d = new QueueDriver(arena, 8);
        Virtqueue q = d.queue(8, ALL, listener);
        d.descriptor(0, BUF, 4, 0, 0);
        d.offer(0);
        d.offer(0);
        List<Integer> served = new ArrayList<>();
        boolean notify = q.processAvailable(chain -> {
            served.add(chain.head());
            q.deviceTypeViolation("bad request");
            return Virtqueue.BROKE_QUEUE;
        });
        assertTrue(notify, "a broken queue must be reported to the driver");
        assertEquals(List.of(0), served, "the second chain is not served");
        assertEquals(0, d.usedIdx(), "the offending chain is not returned");
        assertEquals(List.of("bad request"), violations);
    }

    @Test
    void popOrEnableNotificationLeavesNotificationsOnWhenEmptyAndSeesLateChains() {
        QueueDriver d = new QueueDriver(arena, 8);
        Virtqueue q = d.queue(8, NO_EVENT_IDX, listener);
        q.disableNotification();
        assertNull(q.popOrEnableNotification());
        assertEquals(0, d.usedFlags(), "out of buffers: the device wants to hear of new ones");
        d.descriptor(0, BUF, 4, Virtqueue.DESC_F_WRITE, 0);
        d.offer(0);
        DescriptorChain c = q.popOrEnableNotification();
        assertNotNull(c);
        assertEquals(0, c.head());
    }

    // ---- hostile drivers: each case breaks the queue, counts once, and touches nothing ----

    private void assertBroken(Virtqueue q, QueueDriver d, String expectedFragment) {
        assertNull(q.pop(), "a broken queue yields nothing");
        assertTrue(q.isBroken(), "queue must be broken");
        assertEquals(1, q.violations(), "one violation counted");
        assertEquals(1, violations.size(), "the listener heard once: " + violations);
        assertTrue(violations.get(0).contains(expectedFragment),
                "reason '" + violations.get(0) + "' should mention '" + expectedFragment + "'");
        assertTrue(d.guardsIntact(), "no byte outside guest RAM was touched");
        // Later calls stay quiet and harmless.
        q.addUsed(0, 0);
        assertFalse(q.enableNotification());
        assertEquals(1, q.violations());
    }

    private void hostile(int size, long features, String fragment, Consumer<QueueDriver> setup) {
        QueueDriver d = new QueueDriver(arena, size);
        Virtqueue q = d.queue(size, features, listener);
        setup.accept(d);
        assertNull(q.pop());
        assertBroken(q, d, fragment);
        // A reset clears the error state; the driver can start again.
        q.reset();
        assertFalse(q.isBroken());
    }

    @Test
    void descriptorLoop() {
        hostile(8, ALL, "loop", d -> {
            d.descriptor(0, BUF, 4, Virtqueue.DESC_F_NEXT, 1);
            d.descriptor(1, BUF, 4, Virtqueue.DESC_F_NEXT, 0);
            d.offer(0);
        });
    }

    @Test
    void selfLoopInAnIndirectTable() {
        long table = BUF + 0x1000;
        hostile(8, ALL, "loop", d -> {
            d.descriptor(0, table, 32, Virtqueue.DESC_F_INDIRECT, 0);
            d.descriptor(table, 1, BUF, 4, Virtqueue.DESC_F_NEXT, 1);
            d.descriptor(table, 0, BUF, 4, Virtqueue.DESC_F_NEXT, 1);
            d.offer(0);
        });
    }

    @Test
    void headIndexBeyondQueueSize() {
        hostile(8, ALL, "head descriptor 8", d -> d.offer(8));
    }

    @Test
    void nextIndexBeyondQueueSize() {
        hostile(8, ALL, "chains to 9", d -> {
            d.descriptor(0, BUF, 4, Virtqueue.DESC_F_NEXT, 9);
            d.offer(0);
        });
    }

    @Test
    void nextIndexBeyondIndirectTable() {
        long table = BUF + 0x1000;
        hostile(8, ALL, "beyond its table of 2", d -> {
            d.descriptor(0, table, 32, Virtqueue.DESC_F_INDIRECT, 0);
            d.descriptor(table, 0, BUF, 4, Virtqueue.DESC_F_NEXT, 2);
            d.offer(0);
        });
    }

    @ParameterizedTest
    @ValueSource(longs = {0, QueueDriver.RAM_BASE - 4, QueueDriver.RAM_BASE + QueueDriver.RAM_SIZE - 2,
            QueueDriver.RAM_BASE + QueueDriver.RAM_SIZE, 0xffff_ffff_ffff_fffeL})
    void bufferOutsideRam(long addr) {
        hostile(8, ALL, "not inside guest RAM", d -> {
            d.descriptor(0, addr, 4, 0, 0);
            d.offer(0);
        });
    }

    @Test
    void lengthPastTheEndOfRam() {
        hostile(8, ALL, "not inside guest RAM", d -> {
            d.descriptor(0, BUF, 0xffff_fff0, Virtqueue.DESC_F_WRITE, 0);
            d.offer(0);
        });
    }

    @Test
    void totalLengthOver4GiB(@TempDir Path dir) throws IOException {
        // Two buffers of 3 GiB each, both genuinely inside "RAM": a sparse file mapping stands in
        // for a large guest so that the length rule, not the RAM check, is what refuses them.
        long big = 7L << 30;
        Path file = dir.resolve("ram");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE, StandardOpenOption.SPARSE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[1]), big - 1);
            var seg = ch.map(FileChannel.MapMode.READ_WRITE, 0, big, arena);
            GuestMemory mem = GuestMemory.of(List.of(new GuestRegion(GuestAddress.of(0), seg)));
            Virtqueue q = new Virtqueue(0, 4, listener);
            q.setSize(4);
            q.setDescTable(0x1000);
            q.setAvailRing(0x2000);
            q.setUsedRing(0x3000);
            assertTrue(q.activate(mem, ALL));
            long three = 3L << 30;
            writeDesc(mem, 0x1000, 0, 1L << 30, (int) three, Virtqueue.DESC_F_NEXT, 1);
            writeDesc(mem, 0x1000, 1, 4L << 30, (int) three, 0, 0);
            mem.writeShort(GuestAddress.of(0x2004), (short) 0);
            mem.writeShort(GuestAddress.of(0x2002), (short) 1);
            assertNull(q.pop());
            assertTrue(q.isBroken());
            assertEquals(1, q.violations());
            assertTrue(violations.get(0).contains("2^32"), violations.get(0));
        }
    }

    private static void writeDesc(GuestMemory m, long table, int i, long addr, int len, int flags, int next) {
        GuestAddress at = GuestAddress.of(table + 16L * i);
        m.writeLong(at, addr);
        m.writeInt(at.checkedAdd(8), len);
        m.writeShort(at.checkedAdd(12), (short) flags);
        m.writeShort(at.checkedAdd(14), (short) next);
    }

    @Test
    void readableAfterWritable() {
        hostile(8, ALL, "follows a device-writable", d -> {
            d.descriptor(0, BUF, 4, Virtqueue.DESC_F_WRITE | Virtqueue.DESC_F_NEXT, 1);
            d.descriptor(1, BUF + 4, 4, 0, 0);
            d.offer(0);
        });
    }

    @Test
    void readableAfterWritableInsideAnIndirectTable() {
        long table = BUF + 0x1000;
        hostile(8, ALL, "follows a device-writable", d -> {
            d.descriptor(0, table, 32, Virtqueue.DESC_F_INDIRECT, 0);
            d.descriptor(table, 0, BUF, 4, Virtqueue.DESC_F_WRITE | Virtqueue.DESC_F_NEXT, 1);
            d.descriptor(table, 1, BUF, 4, 0, 0);
            d.offer(0);
        });
    }

    @Test
    void indirectWithoutTheFeature() {
        hostile(8, NO_EVENT_IDX & ~Virtio.bit(Virtio.F_INDIRECT_DESC), "not negotiated", d -> {
            d.descriptor(0, BUF + 0x1000, 32, Virtqueue.DESC_F_INDIRECT, 0);
            d.offer(0);
        });
    }

    @Test
    void nestedIndirectTable() {
        long table = BUF + 0x1000;
        hostile(8, ALL, "nested", d -> {
            d.descriptor(0, table, 16, Virtqueue.DESC_F_INDIRECT, 0);
            d.descriptor(table, 0, BUF + 0x2000, 16, Virtqueue.DESC_F_INDIRECT, 0);
            d.offer(0);
        });
    }

    @Test
    void indirectCombinedWithNext() {
        hostile(8, ALL, "both INDIRECT and NEXT", d -> {
            d.descriptor(0, BUF + 0x1000, 32, Virtqueue.DESC_F_INDIRECT | Virtqueue.DESC_F_NEXT, 1);
            d.descriptor(1, BUF, 4, 0, 0);
            d.offer(0);
        });
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 8, 17, 0x7fff_fff0})
    void indirectTableLengthNotAMultipleOf16OrTooLong(int len) {
        hostile(8, ALL, "multiple of 16", d -> {
            d.descriptor(0, BUF + 0x1000, len, Virtqueue.DESC_F_INDIRECT, 0);
            d.offer(0);
        });
    }

    @Test
    void indirectTableOutsideRam() {
        hostile(8, ALL, "indirect table at", d -> {
            d.descriptor(0, QueueDriver.RAM_BASE + QueueDriver.RAM_SIZE - 16, 32, Virtqueue.DESC_F_INDIRECT, 0);
            d.offer(0);
        });
    }

    @Test
    void availIndexJumpsMoreThanQueueSize() {
        hostile(8, ALL, "more than the queue size", d -> {
            d.descriptor(0, BUF, 4, 0, 0);
            d.setAvailIdx(9);
        });
    }

    @Test
    void availIndexJumpingBackwardsIsAlsoAJump() {
        hostile(8, ALL, "more than the queue size", d -> d.setAvailIdx(0xffff));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 3, 48, 512, 65536})
    void badQueueSizes(int size) {
        QueueDriver d = new QueueDriver(arena, 8);
        Virtqueue q = new Virtqueue(0, 256, listener);
        q.setSize(size);
        q.setDescTable(d.desc);
        q.setAvailRing(d.avail);
        q.setUsedRing(d.used);
        assertFalse(q.activate(d.memory, ALL));
        assertBroken(q, d, "queue size");
    }

    @Test
    void misalignedRings() {
        QueueDriver d = new QueueDriver(arena, 8);
        Virtqueue q = new Virtqueue(0, 8, listener);
        q.setDescTable(d.desc + 8);
        q.setAvailRing(d.avail);
        q.setUsedRing(d.used);
        assertFalse(q.activate(d.memory, ALL));
        assertBroken(q, d, "16-byte aligned");
    }

    @Test
    void ringOutsideRam() {
        QueueDriver d = new QueueDriver(arena, 8);
        Virtqueue q = new Virtqueue(0, 8, listener);
        q.setDescTable(d.desc);
        q.setAvailRing(d.avail);
        q.setUsedRing(QueueDriver.RAM_BASE + QueueDriver.RAM_SIZE - 16);
        assertFalse(q.activate(d.memory, ALL));
        assertBroken(q, d, "used ring");
    }

    @Test
    void oversizedQueueMaximumIsOurBug() {
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new Virtqueue(0, 65536, listener));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new Virtqueue(0, 100, listener));
    }
}
