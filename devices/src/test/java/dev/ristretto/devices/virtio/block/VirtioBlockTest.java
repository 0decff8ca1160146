package dev.ristretto.devices.virtio.block;

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

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * virtio-blk requests driven through a real split virtqueue in guest RAM, with the mock driver
 * writing descriptors the way Linux's virtio_blk does (header, data, status as separate
 * descriptors) and in the less usual shapes §2.6.4 allows.
 */
class VirtioBlockTest {

    private static final long DISK_SIZE = 128 * 512;
    private static final long HDR = QueueDriver.RAM_BASE + 0x8_0000;
    private static final long DATA = QueueDriver.RAM_BASE + 0x9_0000;
    private static final long STATUS = QueueDriver.RAM_BASE + 0xf_0000;
    private static final long FEATURES = Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_INDIRECT_DESC)
            | Virtio.bit(Virtio.F_EVENT_IDX);

    private Arena arena;
    private QueueDriver driver;
    private Virtqueue queue;
    private MemoryBlockBackend backend;
    private VirtioBlock blk;
    private final List<String> violations = new ArrayList<>();
    private int interrupts;

    @BeforeEach
    void setUp() {
        arena = Arena.ofConfined();
        driver = new QueueDriver(arena, 16);
    }

    @AfterEach
    void tearDown() {
        assertTrue(driver.guardsIntact(), "nothing outside guest RAM was touched");
        arena.close();
    }

    private void start(boolean readOnly, String serial, long deviceFeaturesToAccept) {
        backend = new MemoryBlockBackend(arena, DISK_SIZE, readOnly);
        blk = new VirtioBlock(backend, serial);
        queue = driver.queue(0, VirtioBlock.QUEUE_SIZE, FEATURES | deviceFeaturesToAccept,
                (q, reason) -> violations.add(reason));
        blk.activate(driver.memory, List.of(queue), FEATURES | deviceFeaturesToAccept, new VirtioInterrupt() {
            @Override
            public void usedBuffers(int q) {
                interrupts++;
            }

            @Override
            public void configChanged() {
            }
        });
    }

    private void start() {
        start(false, "ristretto-disk-0", blkFeatures(false));
    }

    private static long blkFeatures(boolean ro) {
        return new VirtioBlock(new MemoryBlockBackend(Arena.ofAuto(), 512, ro), "").deviceFeatures();
    }

    private void header(int type, long sector) {
        ByteBuffer h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(0, type).putInt(4, 0).putLong(8, sector);
        driver.memory.write(GuestAddress.of(HDR), h.array());
        driver.memory.writeByte(GuestAddress.of(STATUS), (byte) 0x77);
    }

    /** Linux's shape: [header R] [data R or W, if any] [status W]. Returns {status, usedLen}. */
    private int[] request(int type, long sector, int dataLen, boolean dataWritable) {
        header(type, sector);
        int i = 0;
        int next = 1;
        driver.descriptor(i++, HDR, 16, Virtqueue.DESC_F_NEXT, next++);
        if (dataLen > 0) {
            driver.descriptor(i++, DATA, dataLen, Virtqueue.DESC_F_NEXT | (dataWritable ? Virtqueue.DESC_F_WRITE : 0),
                    next++);
        }
        driver.descriptor(i, STATUS, 1, Virtqueue.DESC_F_WRITE, 0);
        return submit();
    }

    private int[] submit() {
        int before = driver.usedIdx();
        driver.offer(0);
        blk.processQueue(0);
        assertEquals(before + 1, driver.usedIdx(), "one request completed");
        int[] elem = driver.usedElement(before);
        assertEquals(0, elem[0], "the head comes back");
        return new int[] {driver.memory.readByte(GuestAddress.of(STATUS)) & 0xff, elem[1]};
    }

    private byte[] diskBytes(long offset, int len) {
        byte[] b = new byte[len];
        MemorySegment.copy(backend.disk, ValueLayout.JAVA_BYTE, offset, b, 0, len);
        return b;
    }

    private byte[] guest(long addr, int len) {
        return driver.memory.read(GuestAddress.of(addr), len);
    }

    @Test
    void configSpaceDescribesTheDisk() {
        start();
        byte[] cfg = new byte[VirtioBlock.CONFIG_SIZE];
        blk.readConfig(0, cfg);
        ByteBuffer c = ByteBuffer.wrap(cfg).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(128, c.getLong(0), "capacity in 512-byte sectors");
        assertEquals(VirtioBlock.QUEUE_SIZE - 2, c.getInt(12), "seg_max");
        assertEquals(512, c.getInt(20), "blk_size");
        assertEquals(VirtioBlock.MAX_DISCARD_SECTORS, c.getInt(36), "max_discard_sectors");
        assertEquals(1, c.getInt(40), "max_discard_seg");
        assertEquals(8, c.getInt(44), "discard_sector_alignment");
        assertEquals(VirtioBlock.MAX_DISCARD_SECTORS, c.getInt(48), "max_write_zeroes_sectors");
        assertEquals(1, c.getInt(52), "max_write_zeroes_seg");
        assertEquals(0, cfg[56], "write_zeroes_may_unmap");
        // A 4-byte read in the middle sees the same bytes.
        byte[] part = new byte[4];
        blk.readConfig(20, part);
        assertArrayEquals(Arrays.copyOfRange(cfg, 20, 24), part);
        blk.writeConfig(0, new byte[] {1, 2, 3, 4});
        blk.readConfig(0, part);
        assertArrayEquals(Arrays.copyOfRange(cfg, 0, 4), part, "config is read-only");

        long f = blk.deviceFeatures();
        for (int bit : new int[] {VirtioBlock.F_SEG_MAX, VirtioBlock.F_BLK_SIZE, VirtioBlock.F_FLUSH,
                VirtioBlock.F_DISCARD, VirtioBlock.F_WRITE_ZEROES}) {
            assertTrue((f & Virtio.bit(bit)) != 0, "offers bit " + bit);
        }
        assertEquals(0, f & Virtio.bit(VirtioBlock.F_RO));
        assertEquals(Virtio.TYPE_BLOCK, blk.deviceType());
        assertArrayEquals(new int[] {256}, blk.queueMaxSizes());
    }

    @Test
    void readOnlyDiskOffersRoAndNoDiscard() {
        start(true, "", blkFeatures(true));
        long f = blk.deviceFeatures();
        assertTrue((f & Virtio.bit(VirtioBlock.F_RO)) != 0);
        assertEquals(0, f & (Virtio.bit(VirtioBlock.F_DISCARD) | Virtio.bit(VirtioBlock.F_WRITE_ZEROES)));
        byte[] cfg = new byte[VirtioBlock.CONFIG_SIZE];
        blk.readConfig(0, cfg);
        assertEquals(0, ByteBuffer.wrap(cfg).order(ByteOrder.LITTLE_ENDIAN).getInt(36), "no discard limits");
    }

    @Test
    void readsSectorsIntoGuestMemory() {
        start();
        int[] r = request(VirtioBlock.T_IN, 3, 1024, true);
        assertEquals(VirtioBlock.S_OK, r[0]);
        assertEquals(1025, r[1], "used length = data written + status byte");
        assertArrayEquals(diskBytes(3 * 512, 1024), guest(DATA, 1024));
        assertEquals(List.of(new MemoryBlockBackend.Op("read", 1536, 1024)), backend.ops);
        assertEquals(1, interrupts);
    }

    @Test
    void writesSectorsFromGuestMemoryAndFlushesOnlyWhenAsked() {
        start();
        byte[] data = new byte[512 * 2];
        new Random(1).nextBytes(data);
        driver.memory.write(GuestAddress.of(DATA), data);
        byte[] before = diskBytes(0, (int) DISK_SIZE);
        int[] r = request(VirtioBlock.T_OUT, 10, data.length, false);
        assertEquals(VirtioBlock.S_OK, r[0]);
        assertEquals(1, r[1], "only the status byte was written into the chain");
        assertArrayEquals(data, diskBytes(10 * 512, data.length));
        // Nothing else on the disk changed.
        byte[] after = diskBytes(0, (int) DISK_SIZE);
        System.arraycopy(data, 0, before, 10 * 512, data.length);
        assertArrayEquals(before, after);
        assertEquals(0, backend.flushes, "FLUSH negotiated: the write cache is volatile");

        r = request(VirtioBlock.T_FLUSH, 0, 0, false);
        assertEquals(VirtioBlock.S_OK, r[0]);
        assertEquals(1, backend.flushes);
    }

    @Test
    void withoutNegotiatedFlushEveryWriteIsStableOnCompletion() {
        start(false, "x", blkFeatures(false) & ~Virtio.bit(VirtioBlock.F_FLUSH));
        int[] r = request(VirtioBlock.T_OUT, 0, 512, false);
        assertEquals(VirtioBlock.S_OK, r[0]);
        assertEquals(List.of(new MemoryBlockBackend.Op("write", 0, 512), new MemoryBlockBackend.Op("flush", 0, 0)),
                backend.ops, "§5.2.6.2: flushed before completion");
    }

    @Test
    void dataSplitAcrossBuffersAndSharingTheHeaderBufferIsHandled() {
        start();
        // Header and the first 100 data bytes in one readable buffer, the rest in two more.
        byte[] data = new byte[1024];
        new Random(2).nextBytes(data);
        header(VirtioBlock.T_OUT, 5);
        driver.memory.write(GuestAddress.of(HDR + 16), Arrays.copyOfRange(data, 0, 100));
        driver.memory.write(GuestAddress.of(DATA), Arrays.copyOfRange(data, 100, 600));
        driver.memory.write(GuestAddress.of(DATA + 0x1000), Arrays.copyOfRange(data, 600, 1024));
        driver.descriptor(0, HDR, 116, Virtqueue.DESC_F_NEXT, 1);
        driver.descriptor(1, DATA, 500, Virtqueue.DESC_F_NEXT, 2);
        driver.descriptor(2, DATA + 0x1000, 424, Virtqueue.DESC_F_NEXT, 3);
        driver.descriptor(3, STATUS, 1, Virtqueue.DESC_F_WRITE, 0);
        int[] r = submit();
        assertEquals(VirtioBlock.S_OK, r[0]);
        assertArrayEquals(data, diskBytes(5 * 512, 1024));
        assertEquals(List.of(new MemoryBlockBackend.Op("write", 2560, 100),
                new MemoryBlockBackend.Op("write", 2660, 500), new MemoryBlockBackend.Op("write", 3160, 424)),
                backend.ops, "guest slices handed straight to the backend, contiguous on disk");

        // A read whose last data bytes share the buffer with the status byte.
        backend.ops.clear();
        header(VirtioBlock.T_IN, 7);
        driver.descriptor(0, HDR, 16, Virtqueue.DESC_F_NEXT, 1);
        driver.descriptor(1, DATA, 300, Virtqueue.DESC_F_NEXT | Virtqueue.DESC_F_WRITE, 2);
        driver.descriptor(2, DATA + 0x1000, 213, Virtqueue.DESC_F_WRITE, 0);
        int before = driver.usedIdx();
        driver.offer(0);
        blk.processQueue(0);
        assertEquals(before + 1, driver.usedIdx());
        assertEquals(513, driver.usedElement(before)[1]);
        assertEquals(VirtioBlock.S_OK, driver.memory.readByte(GuestAddress.of(DATA + 0x1000 + 212)));
        byte[] expect = diskBytes(7 * 512, 512);
        assertArrayEquals(Arrays.copyOfRange(expect, 0, 300), guest(DATA, 300));
        assertArrayEquals(Arrays.copyOfRange(expect, 300, 512), guest(DATA + 0x1000, 212));
    }

    @Test
    void indirectRequestsWork() {
        start();
        long table = QueueDriver.RAM_BASE + 0x7_0000;
        header(VirtioBlock.T_IN, 1);
        driver.descriptor(table, 0, HDR, 16, Virtqueue.DESC_F_NEXT, 1);
        driver.descriptor(table, 1, DATA, 512, Virtqueue.DESC_F_NEXT | Virtqueue.DESC_F_WRITE, 2);
        driver.descriptor(table, 2, STATUS, 1, Virtqueue.DESC_F_WRITE, 0);
        driver.descriptor(0, table, 48, Virtqueue.DESC_F_INDIRECT, 0);
        int[] r = submit();
        assertEquals(VirtioBlock.S_OK, r[0]);
        assertArrayEquals(diskBytes(512, 512), guest(DATA, 512));
    }

    @Test
    void getIdIsNulPaddedToTwentyBytes() {
        start(false, "abc", blkFeatures(false));
        driver.memory.write(GuestAddress.of(DATA), new byte[] {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
                9, 9});
        int[] r = request(VirtioBlock.T_GET_ID, 0, 20, true);
        assertEquals(VirtioBlock.S_OK, r[0]);
        assertEquals(21, r[1]);
        byte[] expect = new byte[20];
        expect[0] = 'a';
        expect[1] = 'b';
        expect[2] = 'c';
        assertArrayEquals(expect, guest(DATA, 20));
    }

    @Test
    void getIdOfExactlyTwentyBytesIsNotTerminated() {
        start(false, "ABCDEFGHIJKLMNOPQRST", blkFeatures(false));
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_GET_ID, 0, 20, true)[0]);
        assertArrayEquals("ABCDEFGHIJKLMNOPQRST".getBytes(StandardCharsets.US_ASCII), guest(DATA, 20));
    }

    @Test
    void getIdWithTheWrongLengthIsAnIoError() {
        start();
        int[] r = request(VirtioBlock.T_GET_ID, 0, 16, true);
        assertEquals(VirtioBlock.S_IOERR, r[0]);
        assertEquals(0, r[1]);
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_GET_ID, 0, 512, true)[0]);
    }

    @Test
    void serialsAndSizesAreCheckedWhenTheDeviceIsMade() {
        MemoryBlockBackend b = new MemoryBlockBackend(arena, 512, false);
        assertThrows(IllegalArgumentException.class, () -> new VirtioBlock(b, "123456789012345678901"));
        assertThrows(IllegalArgumentException.class, () -> new VirtioBlock(b, "tab\there"));
        assertThrows(IllegalArgumentException.class, () -> new VirtioBlock(b, "caf\u00e9"));
        assertThrows(IllegalArgumentException.class,
                () -> new VirtioBlock(new MemoryBlockBackend(arena, 1000, false), "odd size"));
    }

    @Test
    void outOfRangeRequestsAreIoErrorsAndTouchNothing() {
        start();
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_IN, 127, 1024, true)[0], "runs past the end");
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_IN, 128, 512, true)[0], "starts at the end");
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_OUT, -1L, 512, false)[0], "u64 sector 2^64-1");
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_OUT, Long.MAX_VALUE / 256, 512, false)[0],
                "sector*512 would overflow");
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_IN, 127, 512, true)[0], "the last sector is fine");
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_IN, 128, 0, true)[0], "an empty read at the end");
        assertEquals(List.of(new MemoryBlockBackend.Op("read", 127 * 512, 512)), backend.ops);
        assertEquals(4, blk.ioErrors());
    }

    @Test
    void lengthsThatAreNotWholeSectorsAreIoErrors() {
        start();
        int[] r = request(VirtioBlock.T_IN, 0, 513, true);
        assertEquals(VirtioBlock.S_IOERR, r[0]);
        assertEquals(0, r[1], "only the status byte, at the end, was written (§2.7.8.2)");
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_OUT, 0, 100, false)[0]);
        assertTrue(backend.ops.isEmpty());
    }

    @Test
    void writesToAReadOnlyDiskAreIoErrors() {
        start(true, "", blkFeatures(true));
        byte[] before = diskBytes(0, (int) DISK_SIZE);
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_OUT, 0, 512, false)[0]);
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_IN, 0, 512, true)[0]);
        assertArrayEquals(before, diskBytes(0, (int) DISK_SIZE));
    }

    @Test
    void backendFailuresBecomeIoErrors() {
        start();
        backend.failNext = true;
        int[] r = request(VirtioBlock.T_IN, 0, 512, true);
        assertEquals(VirtioBlock.S_IOERR, r[0]);
        assertEquals(0, r[1]);
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_IN, 0, 512, true)[0], "the device carries on");
        assertFalse(queue.isBroken());
    }

    @Test
    void unknownTypesAreUnsupported() {
        start();
        assertEquals(VirtioBlock.S_UNSUPP, request(2, 0, 0, false)[0]);
        assertEquals(VirtioBlock.S_UNSUPP, request(10 /* GET_LIFETIME */, 0, 16, true)[0]);
        assertEquals(VirtioBlock.S_UNSUPP, request(0x7fff_ffff, 0, 0, false)[0]);
        assertEquals(3, blk.unsupported());
        assertFalse(queue.isBroken());
    }

    private void segment(long sector, int count, int flags) {
        ByteBuffer s = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        s.putLong(0, sector).putInt(8, count).putInt(12, flags);
        driver.memory.write(GuestAddress.of(DATA), s.array());
    }

    @Test
    void discardAndWriteZeroesClearExactlyTheirRange() {
        start();
        byte[] before = diskBytes(0, (int) DISK_SIZE);
        segment(4, 2, 0);
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_DISCARD, 0, 16, false)[0]);
        segment(20, 3, VirtioBlock.FLAG_UNMAP);
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_WRITE_ZEROES, 0, 16, false)[0]);
        segment(30, 1, 0);
        assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_WRITE_ZEROES, 0, 16, false)[0]);
        assertEquals(List.of(new MemoryBlockBackend.Op("discard", 4 * 512, 1024),
                new MemoryBlockBackend.Op("zeroes", 20 * 512, 1536),
                new MemoryBlockBackend.Op("zeroes", 30 * 512, 512)), backend.ops);
        Arrays.fill(before, 4 * 512, 6 * 512, (byte) 0);
        Arrays.fill(before, 20 * 512, 23 * 512, (byte) 0);
        Arrays.fill(before, 30 * 512, 31 * 512, (byte) 0);
        assertArrayEquals(before, diskBytes(0, (int) DISK_SIZE));
    }

    @Test
    void hostileSegmentsAreRefused() {
        start();
        segment(0, 1, VirtioBlock.FLAG_UNMAP);
        assertEquals(VirtioBlock.S_UNSUPP, request(VirtioBlock.T_DISCARD, 0, 16, false)[0], "unmap on discard");
        segment(0, 1, 2);
        assertEquals(VirtioBlock.S_UNSUPP, request(VirtioBlock.T_WRITE_ZEROES, 0, 16, false)[0], "unknown flag");
        segment(0, 1, 0x8000_0000);
        assertEquals(VirtioBlock.S_UNSUPP, request(VirtioBlock.T_DISCARD, 0, 16, false)[0], "unknown flag");
        segment(0, 1, 0);
        assertEquals(VirtioBlock.S_UNSUPP, request(VirtioBlock.T_DISCARD, 0, 32, false)[0], "two segments");
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_DISCARD, 0, 15, false)[0], "partial segment");
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_WRITE_ZEROES, 0, 0, false)[0], "no segment");
        segment(127, 2, 0);
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_WRITE_ZEROES, 0, 16, false)[0], "past the end");
        segment(-1L, 1, 0);
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_DISCARD, 0, 16, false)[0], "u64 sector");
        segment(0, -1, 0);
        assertEquals(VirtioBlock.S_IOERR, request(VirtioBlock.T_DISCARD, 0, 16, false)[0], "2^32-1 sectors");
        assertTrue(backend.ops.isEmpty(), "the backend saw none of them: " + backend.ops);
        assertFalse(queue.isBroken());
    }

    @Test
    void discardIsUnsupportedWhenNotNegotiatedAndRefusedOnReadOnlyDisks() {
        start(false, "", blkFeatures(false) & ~Virtio.bit(VirtioBlock.F_DISCARD));
        segment(0, 1, 0);
        assertEquals(VirtioBlock.S_UNSUPP, request(VirtioBlock.T_DISCARD, 0, 16, false)[0]);
        assertTrue(backend.ops.isEmpty());
    }

    @Test
    void aRequestWithoutStatusByteIsADriverError() {
        start();
        header(VirtioBlock.T_IN, 0);
        driver.descriptor(0, HDR, 16, Virtqueue.DESC_F_NEXT, 1);
        driver.descriptor(1, DATA, 512, 0, 0);
        driver.offer(0);
        blk.processQueue(0);
        assertTrue(queue.isBroken());
        assertEquals(1, violations.size());
        assertTrue(violations.get(0).contains("status"), violations.get(0));
        assertTrue(backend.ops.isEmpty());
        assertEquals(0, driver.usedIdx(), "nothing completed on a broken queue");
    }

    @Test
    void aShortHeaderIsADriverError() {
        start();
        header(VirtioBlock.T_IN, 0);
        driver.descriptor(0, HDR, 8, Virtqueue.DESC_F_NEXT, 1);
        driver.descriptor(1, STATUS, 1, Virtqueue.DESC_F_WRITE, 0);
        driver.offer(0);
        blk.processQueue(0);
        assertTrue(queue.isBroken());
        assertTrue(violations.get(0).contains("header"), violations.get(0));
    }

    @Test
    void dataInTheWrongDirectionIsADriverError() {
        start();
        header(VirtioBlock.T_IN, 0);
        // A read whose data buffer is device-readable: the device cannot fill it.
        driver.descriptor(0, HDR, 16, Virtqueue.DESC_F_NEXT, 1);
        driver.descriptor(1, DATA, 512, Virtqueue.DESC_F_NEXT, 2);
        driver.descriptor(2, STATUS, 1, Virtqueue.DESC_F_WRITE, 0);
        driver.offer(0);
        blk.processQueue(0);
        assertTrue(queue.isBroken());
        assertTrue(violations.get(0).contains("wrong direction"), violations.get(0));
        assertTrue(backend.ops.isEmpty());
    }

    @Test
    void aWriteWithDeviceWritableDataIsADriverError() {
        start();
        byte[] before = diskBytes(0, (int) DISK_SIZE);
        header(VirtioBlock.T_OUT, 0);
        driver.descriptor(0, HDR, 16, Virtqueue.DESC_F_NEXT, 1);
        driver.descriptor(1, DATA, 512, Virtqueue.DESC_F_NEXT | Virtqueue.DESC_F_WRITE, 2);
        driver.descriptor(2, STATUS, 1, Virtqueue.DESC_F_WRITE, 0);
        driver.offer(0);
        blk.processQueue(0);
        assertTrue(queue.isBroken());
        assertArrayEquals(before, diskBytes(0, (int) DISK_SIZE));
        assertTrue(backend.ops.isEmpty());
    }

    @Test
    void resetForgetsTheQueue() {
        start();
        blk.reset();
        header(VirtioBlock.T_IN, 0);
        driver.descriptor(0, HDR, 16, Virtqueue.DESC_F_NEXT, 1);
        driver.descriptor(1, STATUS, 1, Virtqueue.DESC_F_WRITE, 0);
        driver.offer(0);
        blk.processQueue(0);
        assertEquals(0, driver.usedIdx());
    }

    @Test
    void manyRequestsWrapTheRingAndKeepTheDiskConsistent() {
        start();
        Random rnd = new Random(42);
        byte[] model = diskBytes(0, (int) DISK_SIZE);
        for (int n = 0; n < 100; n++) {
            int sectors = 1 + rnd.nextInt(8);
            long sector = rnd.nextInt(128 - sectors + 1);
            if (rnd.nextBoolean()) {
                byte[] data = new byte[sectors * 512];
                rnd.nextBytes(data);
                driver.memory.write(GuestAddress.of(DATA), data);
                assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_OUT, sector, data.length, false)[0]);
                System.arraycopy(data, 0, model, (int) sector * 512, data.length);
            } else {
                assertEquals(VirtioBlock.S_OK, request(VirtioBlock.T_IN, sector, sectors * 512, true)[0]);
                assertArrayEquals(Arrays.copyOfRange(model, (int) sector * 512, (int) (sector + sectors) * 512),
                        guest(DATA, sectors * 512));
            }
        }
        assertArrayEquals(model, diskBytes(0, (int) DISK_SIZE));
        assertEquals(100, blk.requests());
    }
}
