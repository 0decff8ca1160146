package dev.ristretto.devices.virtio;

import static dev.ristretto.devices.pci.LittleEndian.le;
import static dev.ristretto.devices.pci.LittleEndian.val;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.devices.pci.PciConfigSpace;
import dev.ristretto.vmm.device.IrqLine;
import dev.ristretto.vmm.memory.GuestAddress;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The transport driven the way Linux's virtio_pci_modern.c drives it: find the capabilities,
 * negotiate, set up the queue, set DRIVER_OK, post buffers, notify, take the interrupt.
 */
class VirtioPciDeviceTest {

    private static final long BAR_BASE = 0x1_0000_0000L;
    private static final long BUF = QueueDriver.RAM_BASE + 0x8_0000;
    private static final long VERSION_1 = Virtio.bit(Virtio.F_VERSION_1);
    private static final long ALL = VirtioPciDevice.TRANSPORT_FEATURES;

    private Arena arena;
    private QueueDriver ring;
    private VirtioRng rng;
    private VirtioPciDevice dev;
    private final List<String> msis = new ArrayList<>();
    private final List<Boolean> intxLevels = new ArrayList<>();
    private int entropyCounter;
    /** cfg_type to capability offset. */
    private final Map<Integer, Integer> caps = new HashMap<>();
    private int msixCap;

    @BeforeEach
    void setUp() {
        arena = Arena.ofShared(); // the concurrency test touches RAM from several threads
        ring = new QueueDriver(arena, 16);
        // Deterministic "entropy": 0, 1, 2, ... so the test can check which bytes went where.
        rng = new VirtioRng(buf -> {
            for (int i = 0; i < buf.length; i++) {
                buf[i] = (byte) entropyCounter++;
            }
        });
        IrqLine intx = intxLevels::add;
        dev = new VirtioPciDevice(rng, ring.memory, (v, m) -> msis.add(v + ":" + Integer.toHexString(m.data())), intx);
        dev.setBarAddress(0, BAR_BASE);
        cfgWrite(PciConfigSpace.COMMAND, PciConfigSpace.COMMAND_MEMORY_SPACE | PciConfigSpace.COMMAND_BUS_MASTER, 2);
        walkCapabilities();
    }

    @AfterEach
    void tearDown() {
        arena.close();
    }

    // ---- driver-side helpers ----

    private long cfgRead(int offset, int size) {
        byte[] b = new byte[size];
        dev.readConfig(offset, b);
        return val(b);
    }

    private void cfgWrite(int offset, long value, int size) {
        dev.writeConfig(offset, le(value, size));
    }

    private long barRead(long offset, int size) {
        byte[] b = new byte[size];
        dev.readBar(0, offset, b);
        return val(b);
    }

    private void barWrite(long offset, long value, int size) {
        dev.writeBar(0, offset, le(value, size));
    }

    private long common(int field, int size) {
        return barRead(capOffset(VirtioPciDevice.CAP_COMMON) + field, size);
    }

    private void common(int field, long value, int size) {
        barWrite(capOffset(VirtioPciDevice.CAP_COMMON) + field, value, size);
    }

    private long capOffset(int type) {
        return cfgRead(caps.get(type) + 8, 4);
    }

    private void walkCapabilities() {
        int ptr = (int) cfgRead(PciConfigSpace.CAPABILITIES_POINTER, 1);
        for (int ttl = 48; ptr != 0 && ttl > 0; ttl--) {
            int id = (int) cfgRead(ptr, 1);
            if (id == 0x09) {
                caps.put((int) cfgRead(ptr + 3, 1), ptr);
            } else if (id == 0x11) {
                msixCap = ptr;
            }
            ptr = (int) cfgRead(ptr + 1, 1);
        }
    }

    private long deviceFeatures() {
        common(VirtioPciDevice.DEVICE_FEATURE_SELECT, 0, 4);
        long lo = common(VirtioPciDevice.DEVICE_FEATURE, 4);
        common(VirtioPciDevice.DEVICE_FEATURE_SELECT, 1, 4);
        return lo | common(VirtioPciDevice.DEVICE_FEATURE, 4) << 32;
    }

    private void driverFeatures(long features) {
        common(VirtioPciDevice.DRIVER_FEATURE_SELECT, 0, 4);
        common(VirtioPciDevice.DRIVER_FEATURE, features & 0xffff_ffffL, 4);
        common(VirtioPciDevice.DRIVER_FEATURE_SELECT, 1, 4);
        common(VirtioPciDevice.DRIVER_FEATURE, features >>> 32, 4);
    }

    private int status() {
        return (int) common(VirtioPciDevice.DEVICE_STATUS, 1);
    }

    private void status(int s) {
        common(VirtioPciDevice.DEVICE_STATUS, s, 1);
    }

    /** §3.1.1 steps 1-6; returns whether FEATURES_OK stuck. */
    private boolean negotiate(long features) {
        status(0);
        status(Virtio.STATUS_ACKNOWLEDGE);
        status(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER);
        driverFeatures(features);
        status(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_FEATURES_OK);
        return (status() & Virtio.STATUS_FEATURES_OK) != 0;
    }

    /** Steps 7-8: queue 0 on {@link #ring}, vector {@code vector}, then DRIVER_OK. */
    private void setUpQueueAndGo(long features, int vector) {
        assertTrue(negotiate(features));
        common(VirtioPciDevice.QUEUE_SELECT, 0, 2);
        assertEquals(VirtioRng.QUEUE_SIZE, common(VirtioPciDevice.QUEUE_SIZE, 2));
        common(VirtioPciDevice.QUEUE_SIZE, ring.size, 2);
        // Linux writes each 64-bit address as two 32-bit halves (vp_iowrite64_twopart).
        common(VirtioPciDevice.QUEUE_DESC, ring.desc & 0xffff_ffffL, 4);
        common(VirtioPciDevice.QUEUE_DESC + 4, ring.desc >>> 32, 4);
        common(VirtioPciDevice.QUEUE_DRIVER, ring.avail, 8);
        common(VirtioPciDevice.QUEUE_DEVICE, ring.used, 8);
        common(VirtioPciDevice.QUEUE_MSIX_VECTOR, vector, 2);
        common(VirtioPciDevice.QUEUE_ENABLE, 1, 2);
        status(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_FEATURES_OK | Virtio.STATUS_DRIVER_OK);
    }

    private void notifyQueue0() {
        long off = capOffset(VirtioPciDevice.CAP_NOTIFY);
        long mult = cfgRead(caps.get(VirtioPciDevice.CAP_NOTIFY) + 16, 4);
        common(VirtioPciDevice.QUEUE_SELECT, 0, 2);
        long notifyOff = common(VirtioPciDevice.QUEUE_NOTIFY_OFF, 2);
        barWrite(off + notifyOff * mult, 0, 2);
    }

    private void enableMsix(int vector, int data) {
        long table = cfgRead(msixCap + 4, 4) & ~7L;
        barWrite(table + 16L * vector, 0xfee0_0000L, 8);
        barWrite(table + 16L * vector + 8, data, 4);
        barWrite(table + 16L * vector + 12, 0, 4);
        cfgWrite(msixCap + 2, 0x8000, 2);
    }

    // ---- tests ----

    @Test
    void presentsAModernVirtioRngFunction() {
        assertEquals(0x1044_1af4L, cfgRead(0, 4));
        assertEquals(1, cfgRead(PciConfigSpace.REVISION_ID, 1));
        assertEquals(0x0040_1af4L, cfgRead(PciConfigSpace.SUBSYSTEM_VENDOR_ID, 4));
        assertEquals(0xff_00_00L, cfgRead(PciConfigSpace.CLASS_CODE, 4) & 0xffffff);
        assertEquals(1, cfgRead(PciConfigSpace.INTERRUPT_PIN, 1));
        // BAR 0: 64-bit prefetchable, sized by the all-ones protocol.
        cfgWrite(0x10, 0xffff_ffffL, 4);
        cfgWrite(0x14, 0xffff_ffffL, 4);
        long size = ~((cfgRead(0x14, 4) << 32 | cfgRead(0x10, 4)) & ~0xfL) + 1;
        assertEquals(VirtioPciDevice.BAR_SIZE, size);
        assertEquals(0xc, cfgRead(0x10, 4) & 0xf);
    }

    @Test
    void capabilitiesDescribeEveryStructure() {
        assertEquals(Map.of(1, caps.get(1), 2, caps.get(2), 3, caps.get(3), 5, caps.get(5)), caps,
                "common, notify, ISR and PCI access; no device config for rng");
        assertTrue(msixCap != 0);
        for (int type : caps.keySet()) {
            int at = caps.get(type);
            assertEquals(type == 2 || type == 5 ? 20 : 16, cfgRead(at + 2, 1), "cap_len of type " + type);
            assertEquals(0, cfgRead(at + 4, 1), "all in BAR 0");
        }
        assertEquals(VirtioPciDevice.COMMON_SIZE, cfgRead(caps.get(1) + 12, 4));
        assertEquals(VirtioPciDevice.NOTIFY_OFFSET, capOffset(2));
        assertEquals(4, cfgRead(caps.get(2) + 12, 4), "one queue, 4 bytes");
        assertEquals(VirtioPciDevice.NOTIFY_OFF_MULTIPLIER, cfgRead(caps.get(2) + 16, 4));
        assertEquals(1, cfgRead(msixCap + 2, 2), "two MSI-X vectors: config and the queue");
        assertEquals(1, common(VirtioPciDevice.NUM_QUEUES, 2));
    }

    @Test
    void offersTheRingFeaturesAndRefusesUnknownOnes() {
        assertEquals(ALL, deviceFeatures());
        assertTrue(negotiate(VERSION_1 | Virtio.bit(Virtio.F_EVENT_IDX)), "a subset is fine");
        assertEquals(VERSION_1 | Virtio.bit(Virtio.F_EVENT_IDX), dev.driverFeatures());

        assertFalse(negotiate(VERSION_1 | Virtio.bit(5)), "bit 5 was not offered");
        assertFalse(negotiate(Virtio.bit(Virtio.F_INDIRECT_DESC)), "VERSION_1 is required");
        assertFalse(negotiate(VERSION_1 | Virtio.bit(40)), "bit 40 was not offered");

        // A bit in a feature word beyond 1, where nothing exists.
        status(0);
        status(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER);
        driverFeatures(VERSION_1);
        common(VirtioPciDevice.DRIVER_FEATURE_SELECT, 2, 4);
        common(VirtioPciDevice.DRIVER_FEATURE, 1, 4);
        status(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_FEATURES_OK);
        assertEquals(0, status() & Virtio.STATUS_FEATURES_OK);
    }

    @Test
    void featuresAreFixedOnceFeaturesOk() {
        assertTrue(negotiate(VERSION_1));
        long before = dev.violations();
        driverFeatures(ALL);
        assertEquals(VERSION_1, dev.driverFeatures());
        assertTrue(dev.violations() > before);
    }

    @Test
    void driverOkWithoutFeaturesOkNeedsReset() {
        status(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER);
        status(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_DRIVER_OK);
        assertEquals(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_DEVICE_NEEDS_RESET, status());
        // Carrying on regardless does not start the device: only a reset clears the error.
        driverFeatures(VERSION_1);
        common(VirtioPciDevice.QUEUE_SIZE, ring.size, 2);
        common(VirtioPciDevice.QUEUE_DESC, ring.desc, 8);
        common(VirtioPciDevice.QUEUE_DRIVER, ring.avail, 8);
        common(VirtioPciDevice.QUEUE_DEVICE, ring.used, 8);
        common(VirtioPciDevice.QUEUE_ENABLE, 1, 2);
        status(status() | Virtio.STATUS_FEATURES_OK);
        status(status() | Virtio.STATUS_DRIVER_OK);
        assertFalse(dev.queue(0).isActive());
        postBuffers();
        notifyQueue0();
        assertEquals(0, ring.usedIdx());
    }

    @Test
    void theDriverCannotClearStatusBits() {
        status(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER);
        status(Virtio.STATUS_ACKNOWLEDGE);
        assertEquals(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER, status());
        status(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_FAILED);
        assertEquals(Virtio.STATUS_ACKNOWLEDGE | Virtio.STATUS_DRIVER | Virtio.STATUS_FAILED, status());
    }

    @Test
    void writingZeroResetsTransportAndQueues() {
        setUpQueueAndGo(ALL, 1);
        common(VirtioPciDevice.CONFIG_MSIX_VECTOR, 0, 2);
        status(0);
        assertEquals(0, status());
        assertEquals(0, dev.driverFeatures());
        common(VirtioPciDevice.QUEUE_SELECT, 0, 2);
        assertEquals(VirtioRng.QUEUE_SIZE, common(VirtioPciDevice.QUEUE_SIZE, 2));
        assertEquals(0, common(VirtioPciDevice.QUEUE_ENABLE, 2));
        assertEquals(0, common(VirtioPciDevice.QUEUE_DESC, 8));
        assertEquals(Virtio.MSI_NO_VECTOR, common(VirtioPciDevice.QUEUE_MSIX_VECTOR, 2));
        assertEquals(Virtio.MSI_NO_VECTOR, common(VirtioPciDevice.CONFIG_MSIX_VECTOR, 2));
        assertFalse(dev.queue(0).isActive());
    }

    @Test
    void queueRegistersCheckWhatTheDriverWrites() {
        common(VirtioPciDevice.QUEUE_SELECT, 1, 2);
        assertEquals(0, common(VirtioPciDevice.QUEUE_SIZE, 2), "queue 1 does not exist: size 0");
        common(VirtioPciDevice.QUEUE_SELECT, 0, 2);
        common(VirtioPciDevice.QUEUE_MSIX_VECTOR, 2, 2);
        assertEquals(Virtio.MSI_NO_VECTOR, common(VirtioPciDevice.QUEUE_MSIX_VECTOR, 2), "vector 2 does not exist");
        common(VirtioPciDevice.QUEUE_MSIX_VECTOR, 1, 2);
        assertEquals(1, common(VirtioPciDevice.QUEUE_MSIX_VECTOR, 2));
        common(VirtioPciDevice.QUEUE_SIZE, 8, 2);
        common(VirtioPciDevice.QUEUE_ENABLE, 1, 2);
        common(VirtioPciDevice.QUEUE_SIZE, 4, 2);
        common(VirtioPciDevice.QUEUE_ENABLE, 0, 2);
        assertEquals(8, common(VirtioPciDevice.QUEUE_SIZE, 2), "a live queue keeps its size");
        assertEquals(1, common(VirtioPciDevice.QUEUE_ENABLE, 2), "queue_enable cannot be cleared");
        assertEquals(0, common(VirtioPciDevice.QUEUE_NOTIFY_OFF, 2));
        assertEquals(0, barRead(VirtioPciDevice.ISR_OFFSET + 4, 4), "the rest of the ISR page reads 0");
    }

    private void postBuffers() {
        ring.descriptor(0, BUF, 8, Virtqueue.DESC_F_WRITE | Virtqueue.DESC_F_NEXT, 1);
        ring.descriptor(1, BUF + 0x100, 4, Virtqueue.DESC_F_WRITE, 0);
        ring.descriptor(2, BUF + 0x200, 16, Virtqueue.DESC_F_WRITE, 0);
        ring.offer(0);
        ring.offer(2);
    }

    @Test
    void rngFillsBuffersAndSignalsTheQueueVectorOverMsix() {
        enableMsix(1, 0x41);
        setUpQueueAndGo(ALL, 1);
        assertTrue(dev.queue(0).isActive());
        postBuffers();
        notifyQueue0();

        assertEquals(2, ring.usedIdx());
        assertArrayEquals(new int[] {0, 12}, ring.usedElement(0));
        assertArrayEquals(new int[] {2, 16}, ring.usedElement(1));
        assertArrayEquals(new byte[] {0, 1, 2, 3, 4, 5, 6, 7}, ring.memory.read(GuestAddress.of(BUF), 8));
        assertArrayEquals(new byte[] {8, 9, 10, 11}, ring.memory.read(GuestAddress.of(BUF + 0x100), 4));
        assertEquals(12, ring.memory.readByte(GuestAddress.of(BUF + 0x200)));
        assertEquals(28, rng.bytesProvided());
        assertEquals(List.of("1:41"), msis, "one interrupt for the batch, on the queue's vector");
        assertEquals(List.of(), intxLevels, "MSI-X on: INTx stays quiet");
        assertEquals(0, dev.violations());
        assertTrue(ring.guardsIntact());
    }

    @Test
    void eventIndexSuppressesTheInterruptTheDriverDoesNotWant() {
        enableMsix(1, 0x41);
        setUpQueueAndGo(ALL, 1);
        ring.descriptor(0, BUF, 8, Virtqueue.DESC_F_WRITE, 0);
        ring.offer(0);
        notifyQueue0();
        assertEquals(List.of("1:41"), msis, "first decision notifies");
        ring.setUsedEvent(5); // the driver wants to hear only when used idx passes 5
        ring.offer(0);
        notifyQueue0();
        assertEquals(2, ring.usedIdx());
        assertEquals(List.of("1:41"), msis);
    }

    @Test
    void withoutMsixTheIsrAndIntxCarryTheInterrupt() {
        setUpQueueAndGo(ALL, Virtio.MSI_NO_VECTOR);
        postBuffers();
        notifyQueue0();
        assertEquals(List.of(true), intxLevels);
        assertEquals(PciConfigSpace.STATUS_INTERRUPT, cfgRead(PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_INTERRUPT);
        assertEquals(1, barRead(VirtioPciDevice.ISR_OFFSET, 1), "queue interrupt");
        assertEquals(List.of(true, false), intxLevels, "reading the ISR deasserts INTx");
        assertEquals(0, barRead(VirtioPciDevice.ISR_OFFSET, 1), "and clears it");
        assertEquals(0, cfgRead(PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_INTERRUPT);

        // With INTx disabled in Command the ISR still records the interrupt, the line stays low.
        cfgWrite(PciConfigSpace.COMMAND, PciConfigSpace.COMMAND_MEMORY_SPACE | PciConfigSpace.COMMAND_INTX_DISABLE, 2);
        ring.setUsedEvent(2); // event index: ask for an interrupt when used idx passes 2
        ring.descriptor(0, BUF, 8, Virtqueue.DESC_F_WRITE, 0);
        ring.offer(0);
        notifyQueue0();
        assertEquals(List.of(true, false), intxLevels);
        assertEquals(1, barRead(VirtioPciDevice.ISR_OFFSET, 1));
    }

    @Test
    void aHostileQueueSetsNeedsResetAndRaisesAConfigInterrupt() {
        enableMsix(0, 0x40);
        enableMsix(1, 0x41);
        setUpQueueAndGo(ALL, 1);
        common(VirtioPciDevice.CONFIG_MSIX_VECTOR, 0, 2);
        int generation = (int) common(VirtioPciDevice.CONFIG_GENERATION, 1);
        ring.descriptor(0, BUF, 8, Virtqueue.DESC_F_WRITE | Virtqueue.DESC_F_NEXT, 1);
        ring.descriptor(1, BUF, 8, Virtqueue.DESC_F_WRITE | Virtqueue.DESC_F_NEXT, 0); // a loop
        ring.offer(0);
        notifyQueue0();

        assertEquals(Virtio.STATUS_DEVICE_NEEDS_RESET, status() & Virtio.STATUS_DEVICE_NEEDS_RESET);
        assertEquals(List.of("0:40"), msis, "configuration change notification on the config vector");
        assertEquals(1, dev.violations());
        assertEquals(1, dev.errorStates());
        assertEquals(0, ring.usedIdx());
        assertEquals((generation + 1) & 0xff, common(VirtioPciDevice.CONFIG_GENERATION, 1));

        // Further notifications do nothing; writing status back with the bit set keeps it.
        ring.descriptor(0, BUF, 8, Virtqueue.DESC_F_WRITE, 0);
        ring.offer(0);
        notifyQueue0();
        status(status() | Virtio.STATUS_FAILED);
        assertTrue((status() & Virtio.STATUS_DEVICE_NEEDS_RESET) != 0);
        assertEquals(0, ring.usedIdx());

        // A reset and a fresh setup on cleared rings bring the device back.
        status(0);
        assertTrue(ring.guardsIntact());
        ring.memory.write(GuestAddress.of(ring.avail), new byte[6 + 2 * ring.size]);
        ring.memory.write(GuestAddress.of(ring.used), new byte[6 + 8 * ring.size]);
        ring.setAvailIdx(0);
        msis.clear();
        setUpQueueAndGo(ALL, 1);
        ring.descriptor(0, BUF, 8, Virtqueue.DESC_F_WRITE, 0);
        ring.offer(0);
        notifyQueue0();
        assertEquals(1, ring.usedIdx());
        assertEquals(List.of("1:41"), msis);
    }

    @Test
    void pciConfigurationAccessCapabilityReachesTheBar() {
        int cap = caps.get(VirtioPciDevice.CAP_PCI_CFG);
        cfgWrite(cap + 4, 0, 1);
        cfgWrite(cap + 8, VirtioPciDevice.COMMON_OFFSET + VirtioPciDevice.NUM_QUEUES, 4);
        cfgWrite(cap + 12, 2, 4);
        assertEquals(1, cfgRead(cap + 16, 2), "num_queues through configuration space");

        cfgWrite(cap + 8, VirtioPciDevice.COMMON_OFFSET + VirtioPciDevice.DEVICE_STATUS, 4);
        cfgWrite(cap + 12, 1, 4);
        cfgWrite(cap + 16, Virtio.STATUS_ACKNOWLEDGE, 4);
        assertEquals(Virtio.STATUS_ACKNOWLEDGE, status());

        long before = dev.violations();
        cfgWrite(cap + 12, 3, 4); // a length other than 1, 2 or 4
        cfgRead(cap + 16, 4);
        assertEquals(before + 1, dev.violations());
    }

    @Test
    void notificationsBeforeDriverOkAreIgnored() {
        assertTrue(negotiate(ALL));
        postBuffers();
        notifyQueue0();
        assertEquals(0, ring.usedIdx());
        assertEquals(0, rng.bytesProvided());
    }

    @Test
    void notificationsFromAnotherThreadRaceRegisterTrafficWithoutDeadlockOrLoss() throws Exception {
        setUpQueueAndGo(ALL, Virtio.MSI_NO_VECTOR);
        for (int i = 0; i < ring.size; i++) {
            ring.descriptor(i, BUF + 0x40L * i, 0x40, Virtqueue.DESC_F_WRITE, 0);
        }
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        // An "ioeventfd thread" notifying as fast as it can while this "vCPU" offers buffers,
        // reads registers and takes interrupts.
        Thread notifier = Thread.ofPlatform().name("ioeventfd-test").start(() -> {
            while (!stop.get()) {
                dev.notifyQueue(0);
            }
        });
        try {
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(20), () -> {
                int offered = 0;
                for (int round = 0; round < 2000; round++) {
                    // Keep at most size chains outstanding, as a driver must.
                    while (offered - ring.usedIdx() < ring.size && offered < 20_000) {
                        ring.offer(offered % ring.size);
                        offered++;
                    }
                    barRead(VirtioPciDevice.ISR_OFFSET, 1);
                    common(VirtioPciDevice.QUEUE_SELECT, 0, 2);
                    common(VirtioPciDevice.QUEUE_SIZE, 2);
                }
                final int total = offered;
                while (ring.usedIdx() != (total & 0xffff)) {
                    Thread.onSpinWait();
                }
                // Reset while the notifier keeps going: afterwards nothing touches the rings.
                status(0);
                assertEquals(0, status());
                int usedAfterReset = ring.usedIdx();
                ring.offer(0);
                Thread.sleep(20);
                assertEquals(usedAfterReset, ring.usedIdx());
            });
        } finally {
            stop.set(true);
            notifier.join();
        }
        assertEquals(0, dev.violations());
        assertTrue(ring.guardsIntact());
    }
}
