package dev.ristretto.devices.virtio.block;

import dev.ristretto.devices.virtio.DescriptorChain;
import dev.ristretto.devices.virtio.Virtio;
import dev.ristretto.devices.virtio.VirtioDevice;
import dev.ristretto.devices.virtio.VirtioInterrupt;
import dev.ristretto.devices.virtio.Virtqueue;
import dev.ristretto.vmm.memory.GuestMemory;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;

/**
 * The block device (VIRTIO 1.2 §5.2): one request queue in front of a {@link BlockBackend}.
 *
 * <h2>Requests (§5.2.6)</h2>
 * A request is {@code struct virtio_blk_req}: a 16-byte device-readable header {@code {le32 type,
 * le32 reserved, le64 sector}}, then the data (device-readable for OUT, DISCARD and WRITE_ZEROES,
 * device-writable for IN and GET_ID), then one device-writable status byte. §2.6.4 forbids the
 * device to assume anything about how the driver splits that byte string into descriptors, so
 * the header and the data may share a buffer and the status byte is simply the last writable
 * byte; sector data moves between the backend and slices of guest RAM cut at buffer boundaries,
 * never through a heap copy.
 *
 * <h2>Which mistakes are whose</h2>
 * A request whose header or status byte is missing, or whose data travels in the wrong direction
 * (a read with device-readable data, a write with device-writable data), cannot be answered as
 * §5.2.6 frames it: there is no status byte to put an error in, or the driver broke the framing
 * that §5.2.6.1 makes it responsible for. Like QEMU ("virtio-blk missing headers") we treat that
 * as a driver error, not a request error: the queue breaks through
 * {@link Virtqueue#deviceTypeViolation} and the transport sets DEVICE_NEEDS_RESET (§2.1.2).
 * Everything else is answered with a status (§5.2.6.2): a range beyond the capacity, a data length
 * that is not a multiple of 512 (§5.2.6.1), a write to a read-only disk (§5.2.6.2: "MUST set the
 * status byte to VIRTIO_BLK_S_IOERR for a write request if the VIRTIO_BLK_F_RO feature is
 * offered, and MUST NOT write any data"), a malformed segment list, or a backend
 * {@link IOException} gives VIRTIO_BLK_S_IOERR; an unknown type, a DISCARD with the unmap flag,
 * unknown segment flags (§5.2.6.2) and more segments than we advertise give VIRTIO_BLK_S_UNSUPP.
 *
 * <h2>Durability (§5.2.6.2)</h2>
 * We offer VIRTIO_BLK_F_FLUSH. A driver that negotiates it gets a volatile write cache and must
 * send FLUSH; a driver that does not must see every write stable on completion ("neither
 * VIRTIO_BLK_F_CONFIG_WCE nor VIRTIO_BLK_F_FLUSH negotiated, but VIRTIO_BLK_F_FLUSH offered"),
 * so then we flush the backend after every write and write-zeroes before completing it.
 *
 * <p>The used length is the number of bytes the device wrote into the chain from the start of its
 * writable part (§2.7.8.2): the data and the status byte on success, or when there is no data;
 * 0 when a request with device-writable data failed before the data moved.
 *
 * <p>Thread safety: {@link #processQueue} runs on the device worker, {@link #activate} and
 * {@link #reset} on vCPU threads; the queue reference is handed over under this object's lock,
 * and the backend is only touched by the worker, as {@link BlockBackend} requires.
 */
public final class VirtioBlock implements VirtioDevice {

    private static final Logger LOG = System.getLogger(VirtioBlock.class.getName());

    /** The one request queue's size. */
    public static final int QUEUE_SIZE = 256;
    /** Sectors are always 512 bytes, whatever blk_size says (§5.2.4: capacity "in 512-byte sectors"). */
    public static final int SECTOR_SIZE = 512;
    /** VIRTIO_BLK_ID_BYTES: the length of the GET_ID answer (§5.2.6). */
    public static final int ID_BYTES = 20;

    // Feature bits, §5.2.3.
    public static final int F_SEG_MAX = 2;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;
    public static final int F_DISCARD = 13;
    public static final int F_WRITE_ZEROES = 14;

    // Request types, §5.2.6.
    public static final int T_IN = 0;
    public static final int T_OUT = 1;
    public static final int T_FLUSH = 4;
    public static final int T_GET_ID = 8;
    public static final int T_DISCARD = 11;
    public static final int T_WRITE_ZEROES = 13;

    // Status values, §5.2.6.
    public static final int S_OK = 0;
    public static final int S_IOERR = 1;
    public static final int S_UNSUPP = 2;

    /** VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP in struct virtio_blk_discard_write_zeroes.flags (§5.2.6). */
    public static final int FLAG_UNMAP = 1;

    /** {le32 type, le32 reserved, le64 sector}. */
    static final int HEADER_SIZE = 16;
    /** struct virtio_blk_discard_write_zeroes {le64 sector, le32 num_sectors, le32 flags}. */
    static final int SEGMENT_SIZE = 16;

    /**
     * seg_max: the header and the status byte take one descriptor each in Linux's requests, and
     * without indirect descriptors a chain cannot be longer than the queue, so this is the most
     * data segments any driver could put in one request anyway (Cloud Hypervisor does the same).
     */
    public static final int SEG_MAX = QUEUE_SIZE - 2;
    /**
     * max_discard_sectors and max_write_zeroes_sectors: 4 Mi - 1 sectors (just under 2 GiB), the
     * size QEMU uses (BDRV_REQUEST_MAX_SECTORS). It bounds the time one request may hold the
     * worker; Linux splits larger discards.
     */
    public static final int MAX_DISCARD_SECTORS = (1 << 22) - 1;
    /** We take one segment per DISCARD or WRITE_ZEROES request (max_discard_seg, max_write_zeroes_seg). */
    public static final int MAX_SEGMENTS = 1;
    /**
     * discard_sector_alignment: 8 sectors (4 KiB). Hosts free space in file-system blocks, and
     * Linux turns this into the queue's discard granularity, so discards arrive whole blocks.
     */
    public static final int DISCARD_SECTOR_ALIGNMENT = 8;

    /** Bytes of struct virtio_blk_config we expose: up to write_zeroes_may_unmap and its padding (§5.2.4). */
    public static final int CONFIG_SIZE = 60;

    private final BlockBackend backend;
    private final byte[] id;
    private final long capacitySectors;
    private final boolean readOnly;
    private final byte[] config;

    private GuestMemory memory;
    private Virtqueue queue;
    private VirtioInterrupt interrupt;
    private long features;

    private long requests;
    private long ioErrors;
    private long unsupported;

    /**
     * @param backend where the sectors live; its size must be a multiple of 512 bytes
     * @param serial  the GET_ID answer: at most 20 printable ASCII characters (NUL-padded to 20
     *                on the wire, and not NUL-terminated when exactly 20, §5.2.6)
     */
    public VirtioBlock(BlockBackend backend, String serial) {
        this.backend = Objects.requireNonNull(backend, "backend");
        this.id = serialBytes(Objects.requireNonNull(serial, "serial"));
        long size = backend.sizeBytes();
        if (size < 0 || size % SECTOR_SIZE != 0) {
            throw new IllegalArgumentException("block backend size " + size
                    + " bytes is not a multiple of the 512-byte sector (VIRTIO 1.2 §5.2.4)");
        }
        this.capacitySectors = size / SECTOR_SIZE;
        this.readOnly = backend.readOnly();
        this.config = buildConfig();
    }

    private static byte[] serialBytes(String serial) {
        byte[] b = serial.getBytes(StandardCharsets.US_ASCII);
        if (b.length > ID_BYTES) {
            throw new IllegalArgumentException("disk serial \"" + serial + "\" is " + b.length
                    + " bytes long; virtio-blk serials are at most " + ID_BYTES + " bytes");
        }
        for (int i = 0; i < serial.length(); i++) {
            char c = serial.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                throw new IllegalArgumentException("disk serial \"" + serial + "\" contains a character that is"
                        + " not printable ASCII at position " + i);
            }
        }
        return b;
    }

    /** struct virtio_blk_config (§5.2.4), little-endian; fields whose feature we do not offer stay 0. */
    private byte[] buildConfig() {
        ByteBuffer c = ByteBuffer.allocate(CONFIG_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        c.putLong(0, capacitySectors);   // capacity
        // size_max at 8: VIRTIO_BLK_F_SIZE_MAX not offered, any segment size is fine.
        c.putInt(12, SEG_MAX);            // seg_max
        // geometry at 16 (VIRTIO_BLK_F_GEOMETRY not offered).
        c.putInt(20, SECTOR_SIZE);        // blk_size
        // topology at 24, writeback at 32, num_queues at 34: features not offered.
        if (!readOnly) {
            c.putInt(36, MAX_DISCARD_SECTORS);       // max_discard_sectors
            c.putInt(40, MAX_SEGMENTS);              // max_discard_seg
            c.putInt(44, DISCARD_SECTOR_ALIGNMENT);  // discard_sector_alignment
            c.putInt(48, MAX_DISCARD_SECTORS);       // max_write_zeroes_sectors
            c.putInt(52, MAX_SEGMENTS);              // max_write_zeroes_seg
            // write_zeroes_may_unmap at 56 stays 0: BlockBackend.writeZeroes carries no unmap
            // hint and makes the range read as zeroes; §5.2.6.2 asks the device to clear the
            // field when a write-zeroes request cannot deallocate sectors.
        }
        return c.array();
    }

    @Override
    public int deviceType() {
        return Virtio.TYPE_BLOCK;
    }

    @Override
    public long deviceFeatures() {
        long f = Virtio.bit(F_SEG_MAX) | Virtio.bit(F_BLK_SIZE) | Virtio.bit(F_FLUSH);
        if (readOnly) {
            // Discard and write-zeroes change the disk; a read-only disk does not offer them.
            f |= Virtio.bit(F_RO);
        } else {
            f |= Virtio.bit(F_DISCARD) | Virtio.bit(F_WRITE_ZEROES);
        }
        return f;
    }

    @Override
    public int[] queueMaxSizes() {
        return new int[] {QUEUE_SIZE};
    }

    @Override
    public int configSize() {
        return CONFIG_SIZE;
    }

    @Override
    public void readConfig(int offset, byte[] data) {
        Virtio.readConfig(config, offset, data);
    }

    @Override
    public void writeConfig(int offset, byte[] data) {
        // Every field we expose is read-only (writeback is only writable with CONFIG_WCE, §5.2.4).
    }

    @Override
    public synchronized void activate(GuestMemory memory, List<Virtqueue> queues, long features,
            VirtioInterrupt interrupt) {
        this.memory = memory;
        this.queue = queues.get(0);
        this.interrupt = interrupt;
        this.features = features;
    }

    @Override
    public synchronized void reset() {
        memory = null;
        queue = null;
        interrupt = null;
        features = 0;
    }

    /** The disk's capacity in 512-byte sectors. */
    public long capacitySectors() {
        return capacitySectors;
    }

    /** Requests completed (with any status) since creation. */
    public synchronized long requests() {
        return requests;
    }

    /** Requests answered VIRTIO_BLK_S_IOERR since creation. */
    public synchronized long ioErrors() {
        return ioErrors;
    }

    /** Requests answered VIRTIO_BLK_S_UNSUPP since creation. */
    public synchronized long unsupported() {
        return unsupported;
    }

    @Override
    public void processQueue(int index) {
        GuestMemory mem;
        Virtqueue q;
        VirtioInterrupt irq;
        long negotiated;
        synchronized (this) {
            mem = memory;
            q = queue;
            irq = interrupt;
            negotiated = features;
        }
        if (q == null || index != 0) {
            return;
        }
        // After a broken queue too: the transport already knows and will notify the driver.
        if (q.processAvailable(chain -> handle(mem, q, chain, negotiated))) {
            irq.usedBuffers(0);
        }
    }

    /**
     * Executes one request; returns the used length (a u32), or {@link Virtqueue#BROKE_QUEUE}
     * after breaking the queue.
     */
    private long handle(GuestMemory mem, Virtqueue q, DescriptorChain chain, long negotiated) {
        if (chain.readableLength() < HEADER_SIZE) {
            q.deviceTypeViolation("virtio-blk request " + chain + " has no 16-byte device-readable header"
                    + " (VIRTIO 1.2 §5.2.6)");
            return Virtqueue.BROKE_QUEUE;
        }
        if (chain.writableLength() < 1) {
            q.deviceTypeViolation("virtio-blk request " + chain + " has no device-writable status byte"
                    + " (VIRTIO 1.2 §5.2.6)");
            return Virtqueue.BROKE_QUEUE;
        }
        byte[] header = new byte[HEADER_SIZE];
        chain.read(0, header);
        ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        int type = h.getInt(0);
        long sector = h.getLong(8);
        long outData = chain.readableLength() - HEADER_SIZE;  // driver-to-device bytes after the header
        long inData = chain.writableLength() - 1;             // device-to-driver bytes before the status

        boolean wrongDirection = switch (type) {
            case T_IN, T_GET_ID -> outData != 0;
            case T_OUT, T_DISCARD, T_WRITE_ZEROES -> inData != 0;
            case T_FLUSH -> outData != 0 || inData != 0;
            default -> false; // unknown types are answered UNSUPP whatever their shape
        };
        if (wrongDirection) {
            q.deviceTypeViolation("virtio-blk request type " + type + " " + chain + " carries data in the"
                    + " wrong direction (VIRTIO 1.2 §5.2.6)");
            return Virtqueue.BROKE_QUEUE;
        }

        int status;
        long dataWritten = 0;
        try {
            switch (type) {
                case T_IN -> {
                    status = checkRange(sector, inData);
                    if (status == S_OK) {
                        transfer(mem, chain, sector, true, inData);
                        dataWritten = inData;
                    }
                }
                case T_OUT -> {
                    status = readOnly ? S_IOERR : checkRange(sector, outData);
                    if (status == S_OK) {
                        transfer(mem, chain, sector, false, outData);
                        writeThrough(negotiated);
                    }
                }
                case T_FLUSH -> {
                    backend.flush();
                    status = S_OK;
                }
                case T_GET_ID -> {
                    // §5.2.6.1: the data of a GET_ID request is exactly VIRTIO_BLK_ID_BYTES long.
                    if (inData != ID_BYTES) {
                        status = S_IOERR;
                    } else {
                        byte[] answer = new byte[ID_BYTES]; // NUL-padded
                        System.arraycopy(id, 0, answer, 0, id.length);
                        chain.write(0, answer);
                        dataWritten = ID_BYTES;
                        status = S_OK;
                    }
                }
                case T_DISCARD -> status = negotiated(negotiated, F_DISCARD)
                        ? segments(chain, outData, false, negotiated) : S_UNSUPP;
                case T_WRITE_ZEROES -> status = negotiated(negotiated, F_WRITE_ZEROES)
                        ? segments(chain, outData, true, negotiated) : S_UNSUPP;
                default -> status = S_UNSUPP;
            }
        } catch (IOException e) {
            // §5.2.6: a failed transfer is VIRTIO_BLK_S_IOERR; the guest decides what to do.
            LOG.log(Level.DEBUG, "virtio-blk: request type " + type + " at sector " + sector + " failed", e);
            status = S_IOERR;
            dataWritten = 0;
        }
        // The status byte is the chain's last writable byte (§5.2.6), after any data.
        chain.write(chain.writableLength() - 1, new byte[] {(byte) status});
        synchronized (this) {
            requests++;
            if (status == S_IOERR) {
                ioErrors++;
            } else if (status == S_UNSUPP) {
                unsupported++;
            }
        }
        // §2.7.8.2: len counts bytes written from the start of the writable part. The status byte
        // is at its end, so it counts only when everything before it was written too; otherwise
        // (an error before the data moved) the honest length is 0, and the driver looks at the
        // status byte, which the device "MAY" write beyond len.
        return dataWritten == inData ? inData + 1 : 0;
    }

    private static boolean negotiated(long features, int bit) {
        return (features & Virtio.bit(bit)) != 0;
    }

    /** IOERR unless [sector, sector + bytes) is a whole number of sectors inside the disk (§5.2.6.1). */
    private int checkRange(long sector, long bytes) {
        if (bytes % SECTOR_SIZE != 0) {
            return S_IOERR;
        }
        long count = bytes / SECTOR_SIZE;
        // sector is a guest u64: compare unsigned, and never add before checking (no overflow).
        if (Long.compareUnsigned(sector, capacitySectors) > 0 || count > capacitySectors - sector) {
            return S_IOERR;
        }
        return S_OK;
    }

    /** §5.2.6.2: without a negotiated FLUSH, a completed write must already be stable. */
    private void writeThrough(long negotiated) throws IOException {
        if (!negotiated(negotiated, F_FLUSH)) {
            backend.flush();
        }
    }

    /**
     * Moves {@code length} bytes of sector data between the disk at {@code sector} and the chain:
     * for a read, into the writable buffers before the status byte; for a write, out of the
     * readable buffers after the header. Each piece is a slice of guest RAM handed to the backend.
     */
    private void transfer(GuestMemory mem, DescriptorChain chain, long sector, boolean read, long length)
            throws IOException {
        List<DescriptorChain.Buffer> buffers = read ? chain.writable() : chain.readable();
        long skip = read ? 0 : HEADER_SIZE;
        long diskOffset = sector * SECTOR_SIZE;
        long remaining = length;
        for (DescriptorChain.Buffer b : buffers) {
            if (remaining == 0) {
                break;
            }
            long len = b.unsignedLength();
            if (skip >= len) {
                skip -= len;
                continue;
            }
            long n = Math.min(len - skip, remaining);
            MemorySegment slice = mem.slice(b.address().checkedAdd(skip), n);
            if (read) {
                backend.read(diskOffset, slice);
            } else {
                backend.write(diskOffset, slice);
            }
            diskOffset += n;
            remaining -= n;
            skip = 0;
        }
    }

    /**
     * DISCARD and WRITE_ZEROES: the data is an array of struct virtio_blk_discard_write_zeroes
     * (§5.2.6). Each field is checked before the backend sees it.
     */
    private int segments(DescriptorChain chain, long length, boolean writeZeroes, long negotiated)
            throws IOException {
        if (readOnly) {
            return S_IOERR; // §5.2.6.2: a write request to a read-only device
        }
        if (length == 0 || length % SEGMENT_SIZE != 0) {
            // §5.2.6.1: the data is a whole, non-empty number of segments.
            return S_IOERR;
        }
        if (length / SEGMENT_SIZE > MAX_SEGMENTS) {
            // More segments than max_discard_seg / max_write_zeroes_seg: a request shape we do not
            // support, answered as QEMU does.
            return S_UNSUPP;
        }
        byte[] raw = new byte[SEGMENT_SIZE];
        chain.read(HEADER_SIZE, raw);
        ByteBuffer s = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        long sector = s.getLong(0);
        long count = Integer.toUnsignedLong(s.getInt(8));
        int flags = s.getInt(12);
        // §5.2.6.2: unknown flags are UNSUPP for both; the unmap flag is UNSUPP for DISCARD.
        if ((flags & ~FLAG_UNMAP) != 0 || (!writeZeroes && (flags & FLAG_UNMAP) != 0)) {
            return S_UNSUPP;
        }
        if (count > MAX_DISCARD_SECTORS) {
            return S_IOERR;
        }
        int range = checkRange(sector, count * SECTOR_SIZE);
        if (range != S_OK || count == 0) {
            return range;
        }
        if (writeZeroes) {
            // The unmap flag only permits deallocation (§5.2.6.2: "MAY deallocate"); the range
            // must read as zeroes either way, which writeZeroes guarantees.
            backend.writeZeroes(sector * SECTOR_SIZE, count * SECTOR_SIZE);
            writeThrough(negotiated);
        } else {
            backend.discard(sector * SECTOR_SIZE, count * SECTOR_SIZE);
        }
        return S_OK;
    }
}
