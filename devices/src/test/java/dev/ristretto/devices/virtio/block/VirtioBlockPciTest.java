package dev.ristretto.devices.virtio.block;

import static dev.ristretto.devices.pci.LittleEndian.le;
import static dev.ristretto.devices.pci.LittleEndian.val;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.devices.pci.PciConfigSpace;
import dev.ristretto.devices.virtio.QueueDriver;
import dev.ristretto.devices.virtio.Virtio;
import dev.ristretto.devices.virtio.VirtioPciDevice;
import dev.ristretto.devices.virtio.Virtqueue;
import dev.ristretto.vmm.memory.GuestAddress;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * virtio-blk behind the modern virtio-pci transport, driven through BAR 0 the way Linux's
 * virtio_pci_modern does: the offered features are the transport's plus the device's, the
 * device configuration is visible in the device-config window, and a request the device cannot
 * answer puts the whole function into DEVICE_NEEDS_RESET.
 */
class VirtioBlockPciTest {

    // struct virtio_pci_common_cfg field offsets, VIRTIO 1.2 §4.1.4.3.
    private static final int DEVICE_FEATURE_SELECT = 0x00;
    private static final int DEVICE_FEATURE = 0x04;
    private static final int DRIVER_FEATURE_SELECT = 0x08;
    private static final int DRIVER_FEATURE = 0x0c;
    private static final int DEVICE_STATUS = 0x14;
    private static final int QUEUE_SELECT = 0x16;
    private static final int QUEUE_SIZE = 0x18;
    private static final int QUEUE_ENABLE = 0x1c;
    private static final int QUEUE_NOTIFY_OFF = 0x1e;
    private static final int QUEUE_DESC = 0x20;
    private static final int QUEUE_DRIVER = 0x28;
    private static final int QUEUE_DEVICE = 0x30;

    private static final long HDR = QueueDriver.RAM_BASE + 0x8_0000;
    private static final long DATA = QueueDriver.RAM_BASE + 0x9_0000;
    private static final long STATUS = QueueDriver.RAM_BASE + 0xf_0000;

    private Arena arena;
    private QueueDriver ring;
    private MemoryBlockBackend backend;
    private VirtioPciDevice dev;
    private final List<Integer> msiVectors = new ArrayList<>();

    @BeforeEach
    void setUp() {
        arena = Arena.ofConfined();
        ring = new QueueDriver(arena, 16);
        backend = new MemoryBlockBackend(arena, 64 * 512, false);
        dev = new VirtioPciDevice(new VirtioBlock(backend, "pci-disk"), ring.memory, (v, m) -> msiVectors.add(v),
                level -> { });
        dev.setBarAddress(0, 0x1_0000_0000L);
        dev.writeConfig(PciConfigSpace.COMMAND,
                le(PciConfigSpace.COMMAND_MEMORY_SPACE | PciConfigSpace.COMMAND_BUS_MASTER, 2));
    }

    @AfterEach
    void tearDown() {
        assertTrue(ring.guardsIntact());
        arena.close();
    }

    private long read(long offset, int size) {
        byte[] b = new byte[size];
        dev.readBar(0, offset, b);
        return val(b);
    }

    private void write(long offset, long value, int size) {
        dev.writeBar(0, offset, le(value, size));
    }

    private long offeredFeatures() {
        write(DEVICE_FEATURE_SELECT, 0, 4);
        long lo = read(DEVICE_FEATURE, 4);
        write(DEVICE_FEATURE_SELECT, 1, 4);
        return lo | read(DEVICE_FEATURE, 4) << 32;
    }

    private void bringUp(long features) {
        write(DEVICE_STATUS, Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER, 1);
        write(DRIVER_FEATURE_SELECT, 0, 4);
        write(DRIVER_FEATURE, features & 0xffff_ffffL, 4);
        write(DRIVER_FEATURE_SELECT, 1, 4);
        write(DRIVER_FEATURE, features >>> 32, 4);
        write(DEVICE_STATUS, Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_FEATURES_OK, 1);
        assertTrue((read(DEVICE_STATUS, 1) & Virtio.STATUS_FEATURES_OK) != 0, "features accepted");
        write(QUEUE_SELECT, 0, 2);
        assertEquals(VirtioBlock.QUEUE_SIZE, read(QUEUE_SIZE, 2));
        write(QUEUE_SIZE, ring.size, 2);
        write(QUEUE_DESC, ring.desc, 8);
        write(QUEUE_DRIVER, ring.avail, 8);
        write(QUEUE_DEVICE, ring.used, 8);
        write(QUEUE_ENABLE, 1, 2);
        write(DEVICE_STATUS, Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_FEATURES_OK
                | Virtio.STATUS_DRIVER_OK, 1);
    }

    private void kick() {
        write(QUEUE_SELECT, 0, 2);
        long notifyOff = read(QUEUE_NOTIFY_OFF, 2);
        write(VirtioPciDevice.NOTIFY_OFFSET + notifyOff * VirtioPciDevice.NOTIFY_OFF_MULTIPLIER, 0, 2);
    }

    private void header(int type, long sector) {
        ring.memory.write(GuestAddress.of(HDR),
                ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(0, type).putLong(8, sector).array());
    }

    @Test
    void aDriverSeesTheDiskAndReadsIt() {
        long offered = offeredFeatures();
        assertEquals(VirtioPciDevice.TRANSPORT_FEATURES | new VirtioBlock(backend, "").deviceFeatures(), offered);
        assertEquals(64, read(VirtioPciDevice.DEVICE_CONFIG_OFFSET, 8), "capacity through the device-config window");
        assertEquals(512, read(VirtioPciDevice.DEVICE_CONFIG_OFFSET + 20, 4), "blk_size");

        bringUp(offered);
        header(VirtioBlock.T_IN, 2);
        ring.descriptor(0, HDR, 16, Virtqueue.DESC_F_NEXT, 1);
        ring.descriptor(1, DATA, 1024, Virtqueue.DESC_F_NEXT | Virtqueue.DESC_F_WRITE, 2);
        ring.descriptor(2, STATUS, 1, Virtqueue.DESC_F_WRITE, 0);
        ring.memory.writeByte(GuestAddress.of(STATUS), (byte) 0xff);
        ring.offer(0);
        kick();
        assertEquals(1, ring.usedIdx());
        assertEquals(VirtioBlock.S_OK, ring.memory.readByte(GuestAddress.of(STATUS)));
        assertEquals(List.of(new MemoryBlockBackend.Op("read", 1024, 1024)), backend.ops);
    }

    @Test
    void anUnanswerableRequestPutsTheFunctionIntoNeedsReset() {
        bringUp(offeredFeatures());
        header(VirtioBlock.T_IN, 0);
        ring.descriptor(0, HDR, 16, 0, 0); // no status byte at all
        ring.offer(0);
        kick();
        assertTrue((read(DEVICE_STATUS, 1) & Virtio.STATUS_DEVICE_NEEDS_RESET) != 0);
        assertEquals(1, dev.violations());
        assertEquals(0, ring.usedIdx());

        // Reset and bring up again: the device works.
        write(DEVICE_STATUS, 0, 1);
        bringUp(offeredFeatures());
        assertEquals(0, read(DEVICE_STATUS, 1) & Virtio.STATUS_DEVICE_NEEDS_RESET);
    }
}
