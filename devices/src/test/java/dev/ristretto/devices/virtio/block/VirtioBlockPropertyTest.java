package dev.ristretto.devices.virtio.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.devices.virtio.QueueDriver;
import dev.ristretto.devices.virtio.Virtio;
import dev.ristretto.devices.virtio.VirtioInterrupt;
import dev.ristretto.devices.virtio.Virtqueue;
import dev.ristretto.vmm.memory.GuestAddress;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * Random, mostly hostile requests: every one either completes with a status byte of 0, 1 or 2
 * or breaks the queue exactly when the chain cannot carry an answer (no header, no status byte,
 * data in the wrong direction); the disk changes only for a successful write and only inside the
 * request's range; nothing outside guest RAM or the disk is touched (the backend asserts its
 * bounds, the driver checks its guard bytes).
 */
class VirtioBlockPropertyTest {

    private static final int SECTORS = 64;
    private static final long AREA = QueueDriver.RAM_BASE + 0x2_0000;
    private static final long FEATURES = Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_INDIRECT_DESC)
            | Virtio.bit(VirtioBlock.F_FLUSH) | Virtio.bit(VirtioBlock.F_DISCARD)
            | Virtio.bit(VirtioBlock.F_WRITE_ZEROES);
    private static final int[] TYPES = {VirtioBlock.T_IN, VirtioBlock.T_OUT, VirtioBlock.T_FLUSH,
        VirtioBlock.T_GET_ID, VirtioBlock.T_DISCARD, VirtioBlock.T_WRITE_ZEROES, 2, 10, 0x8000_0000};

    private static long pick(Random r, long... values) {
        return values[r.nextInt(values.length)];
    }

    /** Splits {@code total} bytes into 1..3 buffer lengths (a zero-length buffer is legal too). */
    private static List<Integer> split(Random r, int total) {
        List<Integer> parts = new ArrayList<>();
        int pieces = 1 + r.nextInt(3);
        int left = total;
        for (int i = 0; i < pieces - 1; i++) {
            int n = r.nextInt(left + 1);
            parts.add(n);
            left -= n;
        }
        parts.add(left);
        return parts;
    }

    private static boolean wrongDirection(int type, long out, long in) {
        return switch (type) {
            case VirtioBlock.T_IN, VirtioBlock.T_GET_ID -> out != 0;
            case VirtioBlock.T_OUT, VirtioBlock.T_DISCARD, VirtioBlock.T_WRITE_ZEROES -> in != 0;
            case VirtioBlock.T_FLUSH -> out != 0 || in != 0;
            default -> false;
        };
    }

    @Test
    void hostileRequestsAreAnsweredOrBreakTheQueueAndNeverStrayOutsideTheirRange() {
        Random r = new Random(0xb10c);
        int broken = 0;
        int[] statuses = new int[3];
        for (int trial = 0; trial < 1000; trial++) {
            try (Arena arena = Arena.ofConfined()) {
                QueueDriver driver = new QueueDriver(arena, 16);
                MemoryBlockBackend backend = new MemoryBlockBackend(arena, SECTORS * 512, r.nextInt(8) == 0);
                VirtioBlock blk = new VirtioBlock(backend, "prop");
                Virtqueue q = driver.queue(0, VirtioBlock.QUEUE_SIZE, FEATURES, (qq, why) -> { });
                blk.activate(driver.memory, List.of(q), FEATURES, new VirtioInterrupt() {
                    @Override
                    public void usedBuffers(int queue) {
                    }

                    @Override
                    public void configChanged() {
                    }
                });

                int type = TYPES[r.nextInt(TYPES.length)];
                long sector = pick(r, 0, r.nextInt(SECTORS), SECTORS - 1, SECTORS, SECTORS + 1, Long.MIN_VALUE, -1,
                        r.nextLong());
                int headerLen = r.nextInt(5) == 0 ? r.nextInt(17) : 16;
                int outLen = (int) pick(r, 0, 0, 1, 15, 16, 32, 512, 513, 1024, r.nextInt(4096));
                int inLen = (int) pick(r, 0, 0, 19, 20, 21, 512, 1000, 1024, r.nextInt(4096));
                int statusLen = r.nextInt(10) == 0 ? 0 : 1;
                if (r.nextInt(10) < 7) {
                    // Mostly the right direction, so the requests get past the framing checks.
                    switch (type) {
                        case VirtioBlock.T_IN, VirtioBlock.T_GET_ID -> outLen = 0;
                        case VirtioBlock.T_FLUSH -> outLen = inLen = 0;
                        default -> inLen = 0;
                    }
                }

                // Fill the readable bytes: header, then either a discard segment or random data.
                ByteBuffer readable = ByteBuffer.allocate(headerLen + outLen).order(ByteOrder.LITTLE_ENDIAN);
                ByteBuffer header = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                        .putInt(0, type).putInt(4, r.nextInt(4) == 0 ? r.nextInt() : 0).putLong(8, sector);
                readable.put(header.array(), 0, headerLen);
                byte[] rest = new byte[outLen];
                r.nextBytes(rest);
                if (outLen >= 16 && r.nextBoolean()) {
                    ByteBuffer.wrap(rest).order(ByteOrder.LITTLE_ENDIAN)
                            .putLong(0, pick(r, 0, r.nextInt(SECTORS), SECTORS, -1))
                            .putInt(8, (int) pick(r, 0, 1, r.nextInt(SECTORS + 2), -1))
                            .putInt(12, (int) pick(r, 0, 0, 1, 2, r.nextInt()));
                }
                readable.put(rest);
                long addr = AREA;
                driver.memory.write(GuestAddress.of(addr), readable.array());

                List<long[]> descs = new ArrayList<>(); // {addr, len, writable}
                for (int len : split(r, headerLen + outLen)) {
                    descs.add(new long[] {addr, len, 0});
                    addr += len;
                }
                long writableStart = AREA + 0x4_0000;
                driver.memory.write(GuestAddress.of(writableStart), new byte[inLen + statusLen]);
                addr = writableStart;
                for (int len : split(r, inLen + statusLen)) {
                    descs.add(new long[] {addr, len, 1});
                    addr += len;
                }
                for (int i = 0; i < descs.size(); i++) {
                    long[] d = descs.get(i);
                    boolean last = i == descs.size() - 1;
                    driver.descriptor(i, d[0], (int) d[1], (d[2] == 1 ? Virtqueue.DESC_F_WRITE : 0)
                            | (last ? 0 : Virtqueue.DESC_F_NEXT), last ? 0 : i + 1);
                }

                byte[] before = new byte[SECTORS * 512];
                java.lang.foreign.MemorySegment.copy(backend.disk, ValueLayout.JAVA_BYTE, 0, before, 0, before.length);
                driver.offer(0);
                blk.processQueue(0);

                // With a short header the device reads its 16 header bytes from whatever follows.
                if (headerLen + outLen >= 16) {
                    type = readable.getInt(0);
                    sector = readable.getLong(8);
                }
                long out = headerLen + outLen - 16L;
                long in = inLen + statusLen - 1L;
                boolean expectBroken = headerLen + outLen < 16 || inLen + statusLen < 1
                        || wrongDirection(type, out, in);
                String what = "trial " + trial + ": type " + type + " sector " + sector + " header " + headerLen
                        + " out " + outLen + " in " + inLen + " status " + statusLen;
                assertEquals(expectBroken, q.isBroken(), what);
                assertTrue(driver.guardsIntact(), what);
                byte[] after = new byte[SECTORS * 512];
                java.lang.foreign.MemorySegment.copy(backend.disk, ValueLayout.JAVA_BYTE, 0, after, 0, after.length);
                if (expectBroken) {
                    broken++;
                    assertEquals(0, driver.usedIdx(), what);
                    assertArrayEquals(before, after, what);
                    continue;
                }
                assertEquals(1, driver.usedIdx(), what);
                int status = driver.memory.readByte(GuestAddress.of(writableStart + inLen + statusLen - 1)) & 0xff;
                assertTrue(status <= 2, what + ": status " + status);
                statuses[status]++;
                int usedLen = driver.usedElement(0)[1];
                // §2.7.8.2: len counts bytes written from the start of the writable part.
                long expectLen = in == 0 ? 1 : status == 0 ? in + 1 : 0;
                assertEquals(expectLen, Integer.toUnsignedLong(usedLen), what);
                // The disk changes only for a successful write-like request, and only inside it.
                boolean writes = type == VirtioBlock.T_OUT || type == VirtioBlock.T_DISCARD
                        || type == VirtioBlock.T_WRITE_ZEROES;
                if (status != 0 || !writes) {
                    assertArrayEquals(before, after, what);
                }
                for (MemoryBlockBackend.Op op : backend.ops) {
                    if (op.kind().equals("read") || op.kind().equals("write")) {
                        assertTrue(op.offset() >= sector * 512 && op.offset() + op.length() <= sector * 512 + Math.max(
                                out, in), what + ": " + op);
                    }
                }
            }
        }
        // The generator reaches every outcome, so the property is not vacuous.
        assertTrue(broken > 20, "broken " + broken);
        for (int s = 0; s < 3; s++) {
            assertTrue(statuses[s] > 10, "status " + s + " seen " + statuses[s] + " times");
        }
    }
}
