package dev.ristretto.devices.virtio;

import dev.ristretto.devices.pci.MsiSink;
import dev.ristretto.devices.pci.MsixCapability;
import dev.ristretto.devices.pci.PciBar;
import dev.ristretto.devices.pci.PciConfigSpace;
import dev.ristretto.devices.pci.PciFunction;
import dev.ristretto.vmm.device.IrqLine;
import dev.ristretto.vmm.memory.GuestMemory;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The modern (non-transitional) virtio-over-PCI transport, VIRTIO 1.2 §4.1, for one
 * {@link VirtioDevice}.
 *
 * <p>The PCI function (§4.1.2): vendor 0x1AF4, device 0x1040 + device type, revision 1 and a
 * subsystem ID of 0x40 (§4.1.2.1: non-transitional devices SHOULD use revision ≥ 1 and
 * subsystem device ID ≥ 0x40, so no legacy driver binds), INTA#, one 64-bit prefetchable memory
 * BAR 0 of {@link #BAR_SIZE} bytes holding every structure, each on its own 4 KiB page so a
 * later version can map pages (notify into an ioeventfd, MSI-X into KVM) independently:
 * <pre>
 *   0x0000 common configuration (§4.1.4.3)      0x0038 bytes
 *   0x1000 ISR status (§4.1.4.5)                1 byte, read to clear
 *   0x2000 device-specific configuration        configSize bytes
 *   0x3000 notifications (§4.1.4.4)             4 bytes per queue: notify_off_multiplier 4,
 *                                               queue_notify_off = queue index
 *   0x4000 MSI-X table (PCI 3.0 §6.8.2)         16 bytes per vector: one per queue + config
 *   0x6000 MSI-X pending bit array
 * </pre>
 * Capabilities in configuration space: MSI-X, then the virtio structures (common, notify, ISR,
 * device if any) and the PCI configuration access capability (VIRTIO_PCI_CAP_PCI_CFG, §4.1.4,
 * which lets a driver reach BAR 0 through configuration space alone).
 *
 * <p>Status (§2.1, §3.1.1): the driver only adds bits; FEATURES_OK is refused (left clear) when
 * the driver accepted a feature we did not offer or did not accept VIRTIO_F_VERSION_1, which
 * this device requires (no legacy interface); DRIVER_OK activates the enabled queues and the
 * device; writing 0 resets everything (§4.1.4.3.1). A guest rule violation — in a queue or here
 * — sets DEVICE_NEEDS_RESET and, once DRIVER_OK is set, sends a configuration change
 * notification (§2.1.2); the device does no more work until the driver resets it.
 *
 * <p>Interrupts (§4.1.5.3-4): with MSI-X enabled, a queue's or the configuration's vector goes to
 * {@link MsixCapability} (VIRTIO_MSI_NO_VECTOR: none); otherwise the ISR bit is set and INTx is
 * asserted until the driver reads the ISR, unless the Command register disables INTx.
 *
 * <p>Threads and locks. Register accesses come from vCPU threads and take this function's lock;
 * {@link #notifyQueue} (a vCPU's notify write now, an ioeventfd thread later) and device work
 * run without it, under a shared processing lock that reset and activation take exclusively, so
 * the device never works on rings the driver has reset. The order is: transport lock,
 * processing lock, the device's own lock, a queue's lock, the interrupt state.
 * {@link VirtioInterrupt} and the queues' violation listener never take the transport lock, so
 * a device may signal from any thread while holding its own lock.
 */
public final class VirtioPciDevice extends PciFunction {

    private static final Logger LOG = System.getLogger(VirtioPciDevice.class.getName());

    public static final int VENDOR_ID = 0x1af4;
    /** §4.1.2: modern device IDs are 0x1040 plus the virtio device type. */
    public static final int DEVICE_ID_BASE = 0x1040;
    public static final int REVISION = 1;
    public static final int SUBSYSTEM_ID = 0x40;

    /** The BAR every structure lives in. */
    public static final int BAR = 0;
    public static final long BAR_SIZE = 0x8000;
    public static final int COMMON_OFFSET = 0x0000;
    public static final int COMMON_SIZE = 0x38;
    public static final int ISR_OFFSET = 0x1000;
    public static final int DEVICE_CONFIG_OFFSET = 0x2000;
    public static final int NOTIFY_OFFSET = 0x3000;
    public static final int NOTIFY_OFF_MULTIPLIER = 4;
    public static final int MSIX_TABLE_OFFSET = 0x4000;
    public static final int MSIX_PBA_OFFSET = 0x6000;
    private static final int PAGE = 0x1000;
    /** The MSI-X table page range holds 0x2000 / 16 vectors: queues plus one for configuration. */
    public static final int MAX_QUEUES = (MSIX_PBA_OFFSET - MSIX_TABLE_OFFSET) / MsixCapability.ENTRY_SIZE - 1;

    // virtio_pci_cap cfg_type values, §4.1.4.
    static final int CAP_COMMON = 1;
    static final int CAP_NOTIFY = 2;
    static final int CAP_ISR = 3;
    static final int CAP_DEVICE = 4;
    static final int CAP_PCI_CFG = 5;
    static final int CAP_VENDOR_SPECIFIC = 0x09;

    // Common configuration layout, §4.1.4.3 (struct virtio_pci_common_cfg).
    static final int DEVICE_FEATURE_SELECT = 0x00;
    static final int DEVICE_FEATURE = 0x04;
    static final int DRIVER_FEATURE_SELECT = 0x08;
    static final int DRIVER_FEATURE = 0x0c;
    static final int CONFIG_MSIX_VECTOR = 0x10;
    static final int NUM_QUEUES = 0x12;
    static final int DEVICE_STATUS = 0x14;
    static final int CONFIG_GENERATION = 0x15;
    static final int QUEUE_SELECT = 0x16;
    static final int QUEUE_SIZE = 0x18;
    static final int QUEUE_MSIX_VECTOR = 0x1a;
    static final int QUEUE_ENABLE = 0x1c;
    static final int QUEUE_NOTIFY_OFF = 0x1e;
    static final int QUEUE_DESC = 0x20;
    static final int QUEUE_DRIVER = 0x28;
    static final int QUEUE_DEVICE = 0x30;

    /** ISR bits, §4.1.4.5. */
    static final int ISR_QUEUE = 1;
    static final int ISR_CONFIG = 2;

    /** The transport and ring features we implement; the device adds its own (§6). */
    public static final long TRANSPORT_FEATURES = Virtio.bit(Virtio.F_VERSION_1)
            | Virtio.bit(Virtio.F_INDIRECT_DESC) | Virtio.bit(Virtio.F_EVENT_IDX);

    private final VirtioDevice device;
    private final GuestMemory memory;
    private final IrqLine intx;
    private final MsixCapability msix;
    private final List<Virtqueue> queues;
    private final long offeredFeatures;
    private final int configSize;
    private final int pciCfgCap;
    private final LongAdder guestErrors = new LongAdder();
    /** Times the device entered DEVICE_NEEDS_RESET. */
    private final AtomicLong errorStates = new AtomicLong();
    private final Interrupt interrupt = new Interrupt();

    // Common configuration registers, guarded by this.
    private int deviceFeatureSelect;
    private int driverFeatureSelect;
    private int queueSelect;
    private long driverFeatures;
    /** The driver set a bit in a feature word above 1, where nothing is offered. */
    private boolean unofferedAccepted;
    /** DRIVER_OK accepted and the device activated; read by notifying threads without the lock. */
    private volatile boolean activated;

    // Read by device threads without the transport lock.
    private final AtomicInteger status = new AtomicInteger();
    private final AtomicInteger configGeneration = new AtomicInteger();
    private final AtomicIntegerArray queueVectors;
    private volatile int configVector = Virtio.MSI_NO_VECTOR;
    private volatile boolean intxDisabled;

    /**
     * Shared by {@link #notifyQueue} while the device processes a queue, exclusive for reset and
     * activation. Taken after the transport lock, never while holding a device or queue lock.
     */
    private final ReentrantReadWriteLock processing = new ReentrantReadWriteLock();

    // ISR and the INTx level, guarded by irqLock (a leaf lock).
    private final Object irqLock = new Object();
    private int isr;
    private boolean intxAsserted;

    /**
     * @param msi  where MSI-X messages go once the driver enables MSI-X
     * @param intx the INTA# line, used while MSI-X is disabled
     */
    public VirtioPciDevice(VirtioDevice device, GuestMemory memory, MsiSink msi, IrqLine intx) {
        super(name(device), new PciConfigSpace(VENDOR_ID, DEVICE_ID_BASE + device.deviceType(), REVISION,
                classCode(device.deviceType()), VENDOR_ID, SUBSYSTEM_ID, 1));
        int[] sizes = device.queueMaxSizes();
        if (sizes.length < 1 || sizes.length > MAX_QUEUES) {
            throw new IllegalArgumentException(name() + ": " + sizes.length + " queues; the transport carries 1 to "
                    + MAX_QUEUES);
        }
        if (device.configSize() < 0 || device.configSize() > PAGE) {
            throw new IllegalArgumentException(name() + ": configuration space of " + device.configSize()
                    + " bytes does not fit its 4 KiB page");
        }
        this.device = device;
        this.memory = memory;
        this.intx = intx;
        this.configSize = device.configSize();
        this.offeredFeatures = device.deviceFeatures() | TRANSPORT_FEATURES;
        List<Virtqueue> qs = new ArrayList<>();
        for (int i = 0; i < sizes.length; i++) {
            qs.add(new Virtqueue(i, sizes[i], (q, reason) -> needsReset("queue " + q.index() + ": " + reason)));
        }
        this.queues = List.copyOf(qs);
        this.queueVectors = new AtomicIntegerArray(sizes.length);
        for (int i = 0; i < sizes.length; i++) {
            queueVectors.set(i, Virtio.MSI_NO_VECTOR);
        }

        config.addBar(new PciBar(BAR, PciBar.Kind.MEMORY64, BAR_SIZE, true));
        msix = new MsixCapability(sizes.length + 1, BAR, MSIX_TABLE_OFFSET, BAR, MSIX_PBA_OFFSET, msi);
        msix.install(config);
        addVirtioCap(CAP_COMMON, COMMON_OFFSET, COMMON_SIZE, null);
        addVirtioCap(CAP_NOTIFY, NOTIFY_OFFSET, sizes.length * NOTIFY_OFF_MULTIPLIER, le(NOTIFY_OFF_MULTIPLIER));
        addVirtioCap(CAP_ISR, ISR_OFFSET, 1, null);
        if (configSize > 0) {
            addVirtioCap(CAP_DEVICE, DEVICE_CONFIG_OFFSET, configSize, null);
        }
        // The access capability's bar, offset, length and pci_cfg_data fields are driver-writable.
        byte[] mask = new byte[18];
        mask[2] = (byte) 0xff;
        Arrays.fill(mask, 6, 18, (byte) 0xff);
        pciCfgCap = config.addCapability(CAP_VENDOR_SPECIFIC, virtioCapBody(CAP_PCI_CFG, 0, 0, le(0)), mask);
    }

    private static String name(VirtioDevice device) {
        return switch (device.deviceType()) {
            case Virtio.TYPE_NET -> "virtio-net";
            case Virtio.TYPE_BLOCK -> "virtio-blk";
            case Virtio.TYPE_CONSOLE -> "virtio-console";
            case Virtio.TYPE_ENTROPY -> "virtio-rng";
            default -> "virtio-" + device.deviceType();
        };
    }

    /** PCI class codes as QEMU and Cloud Hypervisor give them; Linux's driver ignores the class. */
    private static int classCode(int type) {
        return switch (type) {
            case Virtio.TYPE_NET -> 0x02_00_00;     // network controller, Ethernet
            case Virtio.TYPE_BLOCK -> 0x01_80_00;   // mass storage, other
            case Virtio.TYPE_CONSOLE -> 0x07_80_00; // communication, other
            default -> 0xff_00_00;                  // device does not fit a defined class
        };
    }

    private void addVirtioCap(int type, int offset, int length, byte[] extra) {
        config.addCapability(CAP_VENDOR_SPECIFIC, virtioCapBody(type, offset, length, extra), null);
    }

    /** struct virtio_pci_cap after cap_vndr and cap_next (§4.1.4), plus {@code extra}. */
    private static byte[] virtioCapBody(int type, int offset, int length, byte[] extra) {
        int extraLength = extra == null ? 0 : extra.length;
        byte[] b = new byte[14 + extraLength];
        b[0] = (byte) (16 + extraLength); // cap_len counts the whole capability
        b[1] = (byte) type;
        b[2] = BAR;
        // b[3] id, b[4..5] padding: 0
        System.arraycopy(le(offset), 0, b, 6, 4);
        System.arraycopy(le(length), 0, b, 10, 4);
        if (extra != null) {
            System.arraycopy(extra, 0, b, 14, extra.length);
        }
        return b;
    }

    // ---- what the machine uses ----

    public VirtioDevice device() {
        return device;
    }

    public MsixCapability msix() {
        return msix;
    }

    /** Queue {@code index} (for diagnostics and tests). */
    public Virtqueue queue(int index) {
        return queues.get(index);
    }

    public int queueCount() {
        return queues.size();
    }

    /** The device status byte (§2.1). */
    public int status() {
        return status.get();
    }

    /** The feature bits the driver accepted. */
    public synchronized long driverFeatures() {
        return driverFeatures;
    }

    /** Guest rule violations seen by the transport and its queues since creation. */
    public long violations() {
        long sum = guestErrors.sum();
        for (Virtqueue q : queues) {
            sum += q.violations();
        }
        return sum;
    }

    /** How many times the device has entered DEVICE_NEEDS_RESET since creation. */
    public long errorStates() {
        return errorStates.get();
    }

    /** The offset of queue {@code index}'s notify register in BAR 0 (for an ioeventfd). */
    public static long notifyOffset(int index) {
        return NOTIFY_OFFSET + (long) index * NOTIFY_OFF_MULTIPLIER;
    }

    /**
     * The driver notified queue {@code index} (§4.1.5.2). The notify register calls this; the
     * machine may call it from an ioeventfd thread instead. Runs the device's queue processing
     * on the calling thread, without the transport lock.
     */
    public void notifyQueue(int index) {
        if (index < 0 || index >= queues.size()) {
            return;
        }
        // Held shared while the device works, so that a reset or an activation (which take it
        // exclusively) never overlaps queue processing: once the driver reads status 0 after a
        // reset, the device is done with the old rings (§4.1.4.3.2: the driver waits for that
        // read before it reuses them).
        processing.readLock().lock();
        try {
            int s = status.get();
            if (!activated || (s & Virtio.STATUS_DRIVER_OK) == 0
                    || (s & (Virtio.STATUS_DEVICE_NEEDS_RESET | Virtio.STATUS_FAILED)) != 0) {
                return;
            }
            if (queues.get(index).isActive()) {
                device.processQueue(index);
            }
        } finally {
            processing.readLock().unlock();
        }
    }

    // ---- configuration space ----

    @Override
    public void readConfig(int offset, byte[] data) {
        int dataField = pciCfgCap + 16;
        if (overlaps(offset, data.length, dataField, 4)) {
            // §4.1.4 (PCI configuration access capability): a read of pci_cfg_data performs the
            // BAR read the capability describes and returns its result there.
            int[] window = pciCfgWindow();
            if (window != null) {
                byte[] value = new byte[window[1]];
                readBar(BAR, window[0], value);
                synchronized (this) {
                    config.set(dataField, (int) leValue(value), 4);
                }
            }
        }
        synchronized (this) {
            config.read(offset, data);
        }
        // Interrupt Status (§6.2.3) mirrors the INTx state the ISR drives.
        int statusByte = PciConfigSpace.STATUS - offset;
        if (statusByte >= 0 && statusByte < data.length) {
            boolean pending;
            synchronized (irqLock) {
                pending = isr != 0 && !msix.isEnabled();
            }
            data[statusByte] = (byte) (pending ? data[statusByte] | PciConfigSpace.STATUS_INTERRUPT
                    : data[statusByte] & ~PciConfigSpace.STATUS_INTERRUPT);
        }
    }

    @Override
    protected void configWritten(int offset, int length) {
        if (overlaps(offset, length, PciConfigSpace.COMMAND, 2)) {
            synchronized (this) {
                intxDisabled = (config.command() & PciConfigSpace.COMMAND_INTX_DISABLE) != 0;
            }
            updateIntx();
        }
        if (overlaps(offset, length, msix.capabilityOffset() + 2, 2)) {
            synchronized (this) {
                msix.controlWritten(config);
            }
            updateIntx();
        }
        int dataField = pciCfgCap + 16;
        if (overlaps(offset, length, dataField, 4)) {
            int[] window = pciCfgWindow();
            if (window != null) {
                long value;
                synchronized (this) {
                    value = Integer.toUnsignedLong(config.read(dataField, 4));
                }
                byte[] bytes = new byte[window[1]];
                for (int i = 0; i < bytes.length; i++) {
                    bytes[i] = (byte) (value >>> (8 * i));
                }
                writeBar(BAR, window[0], bytes);
            }
        }
    }

    /**
     * {offset, length} of the BAR access the PCI configuration access capability describes, or
     * null (and counted) when the driver set it up wrongly: another BAR, a length other than 1, 2
     * or 4, an offset not aligned to the length or outside the BAR (§4.1.4, driver requirements).
     */
    private int[] pciCfgWindow() {
        int bar;
        long off;
        long len;
        synchronized (this) {
            bar = config.read(pciCfgCap + 4, 1);
            off = Integer.toUnsignedLong(config.read(pciCfgCap + 8, 4));
            len = Integer.toUnsignedLong(config.read(pciCfgCap + 12, 4));
        }
        if (bar != BAR || (len != 1 && len != 2 && len != 4) || off % len != 0 || off + len > BAR_SIZE) {
            misbehaved("PCI configuration access capability names BAR " + bar + " offset 0x" + Long.toHexString(off)
                    + " length " + len);
            return null;
        }
        return new int[] {(int) off, (int) len};
    }

    // ---- BAR 0 ----

    @Override
    public void readBar(int bar, long offset, byte[] data) {
        Arrays.fill(data, (byte) 0);
        if (bar != BAR || offset < 0 || offset + data.length > BAR_SIZE) {
            return;
        }
        int off = (int) offset;
        if (off < COMMON_OFFSET + COMMON_SIZE) {
            synchronized (this) {
                byte[] image = commonImage();
                for (int i = 0; i < data.length && off + i < COMMON_SIZE; i++) {
                    data[i] = image[off + i];
                }
            }
        } else if (off == ISR_OFFSET) {
            data[0] = (byte) readIsr();
        } else if (off >= DEVICE_CONFIG_OFFSET && off < DEVICE_CONFIG_OFFSET + PAGE) {
            int at = off - DEVICE_CONFIG_OFFSET;
            if (at + data.length <= configSize) {
                device.readConfig(at, data);
            }
        } else if (off >= MSIX_TABLE_OFFSET && off < MSIX_PBA_OFFSET) {
            msix.readTable(off - MSIX_TABLE_OFFSET, data);
        } else if (off >= MSIX_PBA_OFFSET && off < MSIX_PBA_OFFSET + PAGE) {
            msix.readPba(off - MSIX_PBA_OFFSET, data);
        }
        // The rest of each page, and the notify page, read 0.
    }

    @Override
    public void writeBar(int bar, long offset, byte[] data) {
        if (bar != BAR || offset < 0 || offset + data.length > BAR_SIZE) {
            return;
        }
        int off = (int) offset;
        if (off < COMMON_OFFSET + COMMON_SIZE) {
            synchronized (this) {
                writeCommon(off, data);
            }
        } else if (off >= DEVICE_CONFIG_OFFSET && off < DEVICE_CONFIG_OFFSET + PAGE) {
            int at = off - DEVICE_CONFIG_OFFSET;
            if (at + data.length <= configSize) {
                device.writeConfig(at, data);
            }
        } else if (off >= NOTIFY_OFFSET && off < NOTIFY_OFFSET + PAGE) {
            // Without VIRTIO_F_NOTIFICATION_DATA the value written is the queue index (§4.1.5.2);
            // the address already says which queue, so the address decides.
            int at = off - NOTIFY_OFFSET;
            if (at % NOTIFY_OFF_MULTIPLIER == 0) {
                notifyQueue(at / NOTIFY_OFF_MULTIPLIER);
            }
        } else if (off >= MSIX_TABLE_OFFSET && off < MSIX_PBA_OFFSET) {
            msix.writeTable(off - MSIX_TABLE_OFFSET, data);
        }
        // ISR and PBA are read-only; other bytes ignore writes.
    }

    // ---- common configuration (§4.1.4.3), guarded by this ----

    /** The structure as the driver would read it now, for the selected feature words and queue. */
    private byte[] commonImage() {
        byte[] b = new byte[COMMON_SIZE];
        put(b, DEVICE_FEATURE_SELECT, deviceFeatureSelect, 4);
        put(b, DEVICE_FEATURE, featureWord(offeredFeatures, deviceFeatureSelect), 4);
        put(b, DRIVER_FEATURE_SELECT, driverFeatureSelect, 4);
        put(b, DRIVER_FEATURE, featureWord(driverFeatures, driverFeatureSelect), 4);
        put(b, CONFIG_MSIX_VECTOR, configVector, 2);
        put(b, NUM_QUEUES, queues.size(), 2);
        put(b, DEVICE_STATUS, status.get(), 1);
        put(b, CONFIG_GENERATION, configGeneration.get(), 1);
        put(b, QUEUE_SELECT, queueSelect, 2);
        if (queueSelect < queues.size()) {
            // §4.1.4.3: an unavailable queue (select beyond num_queues) reads queue_size 0.
            Virtqueue q = queues.get(queueSelect);
            put(b, QUEUE_SIZE, q.size(), 2);
            put(b, QUEUE_MSIX_VECTOR, queueVectors.get(queueSelect), 2);
            put(b, QUEUE_ENABLE, q.isEnabled() ? 1 : 0, 2);
            put(b, QUEUE_NOTIFY_OFF, queueSelect, 2);
            putLong(b, QUEUE_DESC, q.descTable());
            putLong(b, QUEUE_DRIVER, q.availRing());
            putLong(b, QUEUE_DEVICE, q.usedRing());
        }
        return b;
    }

    private static long featureWord(long features, int select) {
        return switch (select) {
            case 0 -> features & 0xffff_ffffL;
            case 1 -> features >>> 32;
            default -> 0;
        };
    }

    /**
     * Applies a write of any width: the written bytes are laid over the current image and every
     * field they touch is written with its new value, in structure order.
     */
    private void writeCommon(int off, byte[] data) {
        byte[] image = commonImage();
        int end = Math.min(off + data.length, COMMON_SIZE);
        System.arraycopy(data, 0, image, off, end - off);
        int[][] fields = {
            {DEVICE_FEATURE_SELECT, 4}, {DEVICE_FEATURE, 4}, {DRIVER_FEATURE_SELECT, 4}, {DRIVER_FEATURE, 4},
            {CONFIG_MSIX_VECTOR, 2}, {NUM_QUEUES, 2}, {DEVICE_STATUS, 1}, {CONFIG_GENERATION, 1},
            {QUEUE_SELECT, 2}, {QUEUE_SIZE, 2}, {QUEUE_MSIX_VECTOR, 2}, {QUEUE_ENABLE, 2}, {QUEUE_NOTIFY_OFF, 2},
            {QUEUE_DESC, 8}, {QUEUE_DRIVER, 8}, {QUEUE_DEVICE, 8},
        };
        for (int[] f : fields) {
            if (overlaps(off, end - off, f[0], f[1])) {
                writeField(f[0], get(image, f[0], f[1]));
            }
        }
    }

    private void writeField(int field, long value) {
        switch (field) {
            case DEVICE_FEATURE_SELECT -> deviceFeatureSelect = (int) value;
            case DRIVER_FEATURE_SELECT -> driverFeatureSelect = (int) value;
            case DRIVER_FEATURE -> writeDriverFeatures(value);
            case CONFIG_MSIX_VECTOR -> configVector = checkedVector((int) value);
            case DEVICE_STATUS -> writeStatus((int) value);
            case QUEUE_SELECT -> queueSelect = (int) value;
            case DEVICE_FEATURE, NUM_QUEUES, CONFIG_GENERATION, QUEUE_NOTIFY_OFF -> { } // read-only
            default -> writeQueueField(field, value);
        }
    }

    private void writeDriverFeatures(long word) {
        if ((status.get() & Virtio.STATUS_FEATURES_OK) != 0) {
            // §3.1.1 step 5: features are fixed once FEATURES_OK is set.
            misbehaved("driver_feature written after FEATURES_OK");
            return;
        }
        switch (driverFeatureSelect) {
            case 0 -> driverFeatures = (driverFeatures & ~0xffff_ffffL) | word;
            case 1 -> driverFeatures = (driverFeatures & 0xffff_ffffL) | (word << 32);
            default -> {
                if (word != 0) {
                    misbehaved("driver accepted features in word " + driverFeatureSelect + ", which offers none");
                    // Features beyond bit 63 do not exist here; accepting one makes FEATURES_OK fail.
                    unofferedAccepted = true;
                }
            }
        }
    }

    /** A vector the table does not have reads back as NO_VECTOR: the mapping failed (§4.1.5.1.2). */
    private int checkedVector(int vector) {
        return vector == Virtio.MSI_NO_VECTOR || vector < msix.vectors() ? vector : Virtio.MSI_NO_VECTOR;
    }

    private void writeQueueField(int field, long value) {
        if (queueSelect >= queues.size()) {
            misbehaved("queue field 0x" + Integer.toHexString(field) + " written for queue " + queueSelect
                    + " of " + queues.size());
            return;
        }
        Virtqueue q = queues.get(queueSelect);
        if (field == QUEUE_MSIX_VECTOR) {
            queueVectors.set(queueSelect, checkedVector((int) value));
            return;
        }
        if (q.isEnabled()) {
            // §4.1.4.3.2: the driver configures a queue before enabling it and never writes 0 to
            // queue_enable; changing a live queue is ignored.
            if (!(field == QUEUE_ENABLE && value == 1)) {
                misbehaved("queue " + queueSelect + " field 0x" + Integer.toHexString(field) + " written while enabled");
            }
            return;
        }
        switch (field) {
            case QUEUE_SIZE -> q.setSize((int) value);
            case QUEUE_DESC -> q.setDescTable(value);
            case QUEUE_DRIVER -> q.setAvailRing(value);
            case QUEUE_DEVICE -> q.setUsedRing(value);
            case QUEUE_ENABLE -> {
                if (value == 1) {
                    q.setEnabled(true);
                    if (activated) {
                        q.activate(memory, driverFeatures);
                    }
                } else if (value != 0) {
                    misbehaved("queue_enable written with " + value);
                }
            }
            default -> throw new IllegalStateException("unhandled common configuration field 0x" + Integer.toHexString(field));
        }
    }

    private void writeStatus(int value) {
        value &= 0xff;
        if (value == 0) {
            resetDevice();
            return;
        }
        int old = status.get();
        // DEVICE_NEEDS_RESET is the device's bit; the driver only writes back what it read.
        int driverBits = value & ~Virtio.STATUS_DEVICE_NEEDS_RESET;
        int keptByDevice = old & ~Virtio.STATUS_DEVICE_NEEDS_RESET & ~driverBits;
        if (keptByDevice != 0) {
            misbehaved("status write 0x" + Integer.toHexString(value) + " clears bits of 0x" + Integer.toHexString(old)
                    + " (§2.1.1: the driver MUST NOT clear a device status bit)");
        }
        int added = driverBits & ~old;
        if ((added & Virtio.STATUS_FEATURES_OK) != 0 && !featuresAcceptable()) {
            // §3.1.1 step 6: leaving FEATURES_OK clear tells the driver the subset is unusable.
            added &= ~Virtio.STATUS_FEATURES_OK;
            LOG.log(Level.INFO, name() + ": refused features 0x" + Long.toHexString(driverFeatures) + " (offered 0x"
                    + Long.toHexString(offeredFeatures) + ", VIRTIO_F_VERSION_1 required)");
        }
        boolean activate = false;
        if ((added & Virtio.STATUS_DRIVER_OK) != 0) {
            if (((old | added) & Virtio.STATUS_FEATURES_OK) == 0) {
                added &= ~Virtio.STATUS_DRIVER_OK;
                int bits = added;
                status.getAndUpdate(s -> s | bits);
                needsReset("DRIVER_OK set without FEATURES_OK (§3.1.1)");
                return;
            }
            // A device in its error state stays stopped until reset, even if the driver goes on.
            activate = (old & Virtio.STATUS_DEVICE_NEEDS_RESET) == 0;
        }
        int bits = added;
        status.getAndUpdate(s -> s | bits);
        if (activate) {
            activate();
        }
    }

    private boolean featuresAcceptable() {
        return !unofferedAccepted && (driverFeatures & ~offeredFeatures) == 0
                && (driverFeatures & Virtio.bit(Virtio.F_VERSION_1)) != 0;
    }

    private void activate() {
        processing.writeLock().lock();
        try {
            for (Virtqueue q : queues) {
                if (q.isEnabled()) {
                    q.activate(memory, driverFeatures);
                }
            }
            device.activate(memory, queues, driverFeatures, interrupt);
            activated = true;
        } finally {
            processing.writeLock().unlock();
        }
    }

    /** §4.1.4.3.1 / §2.4: writing 0 to device_status resets the device and the transport. */
    private void resetDevice() {
        processing.writeLock().lock();
        try {
            activated = false;
            device.reset();
            for (int i = 0; i < queues.size(); i++) {
                queues.get(i).reset();
                queueVectors.set(i, Virtio.MSI_NO_VECTOR);
            }
        } finally {
            processing.writeLock().unlock();
        }
        driverFeatures = 0;
        unofferedAccepted = false;
        deviceFeatureSelect = 0;
        driverFeatureSelect = 0;
        queueSelect = 0;
        configVector = Virtio.MSI_NO_VECTOR;
        status.set(0);
        synchronized (irqLock) {
            isr = 0;
        }
        updateIntx();
    }

    // ---- errors and interrupts (no transport lock) ----

    /**
     * Enters the error state (§2.1.2): DEVICE_NEEDS_RESET, and a configuration change
     * notification if the driver is running. Callable from any thread.
     */
    private void needsReset(String reason) {
        int before = status.getAndUpdate(s -> s | Virtio.STATUS_DEVICE_NEEDS_RESET);
        if ((before & Virtio.STATUS_DEVICE_NEEDS_RESET) != 0) {
            return;
        }
        long n = errorStates.incrementAndGet();
        // Rate limit without a clock (devices own none): log the 1st, 2nd, 4th, 8th ... time, so
        // a guest that resets and breaks the device in a loop cannot flood the log.
        if (Long.bitCount(n) == 1) {
            LOG.log(Level.WARNING, name() + ": " + reason + "; the device needs a reset (error state #" + n
                    + ", later ones logged at powers of two)");
        }
        if ((before & Virtio.STATUS_DRIVER_OK) != 0) {
            configGeneration.incrementAndGet();
            raise(configVector, ISR_CONFIG);
        }
    }

    private void misbehaved(String what) {
        guestErrors.increment();
        LOG.log(Level.DEBUG, () -> name() + ": guest " + what);
    }

    private void raise(int vector, int isrBit) {
        if (vector != Virtio.MSI_NO_VECTOR && msix.trigger(vector)) {
            return;
        }
        if (msix.isEnabled()) {
            return; // MSI-X on and no vector mapped: the driver asked for no interrupt (§4.1.5.1.2)
        }
        synchronized (irqLock) {
            isr |= isrBit;
        }
        updateIntx();
    }

    private int readIsr() {
        int value;
        synchronized (irqLock) {
            value = isr;
            isr = 0;
        }
        updateIntx();
        return value;
    }

    /** Drives INTA# to what the ISR, MSI-X and the Command register say, in one place. */
    private void updateIntx() {
        synchronized (irqLock) {
            boolean level = isr != 0 && !msix.isEnabled() && !intxDisabled;
            if (level != intxAsserted) {
                intxAsserted = level;
                intx.set(level);
            }
        }
    }

    /** What the device is handed at activation. */
    private final class Interrupt implements VirtioInterrupt {
        @Override
        public void usedBuffers(int queue) {
            if (queues.get(queue).needsNotification()) {
                raise(queueVectors.get(queue), ISR_QUEUE);
            }
        }

        @Override
        public void configChanged() {
            configGeneration.incrementAndGet();
            raise(configVector, ISR_CONFIG);
        }
    }

    // ---- little-endian helpers ----

    private static byte[] le(int v) {
        return new byte[] {(byte) v, (byte) (v >>> 8), (byte) (v >>> 16), (byte) (v >>> 24)};
    }

    private static long leValue(byte[] b) {
        long v = 0;
        for (int i = b.length - 1; i >= 0; i--) {
            v = (v << 8) | (b[i] & 0xff);
        }
        return v;
    }

    private static void put(byte[] b, int at, long v, int size) {
        for (int i = 0; i < size; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    private static void putLong(byte[] b, int at, long v) {
        put(b, at, v, 8);
    }

    private static long get(byte[] b, int at, int size) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (b[at + i] & 0xff);
        }
        return v;
    }
}
