package dev.ristretto.devices.virtio;

/**
 * Numbers the VIRTIO 1.2 specification fixes, shared by the transport, the queues and devices.
 */
public final class Virtio {
    private Virtio() {
    }

    // Device status field, VIRTIO 1.2 §2.1.
    /** The guest OS has found the device and recognised it as a valid virtio device. */
    public static final int STATUS_ACKNOWLEDGE = 1;
    /** The guest OS knows how to drive the device. */
    public static final int STATUS_DRIVER = 2;
    /** The driver is set up and ready to drive the device. */
    public static final int STATUS_DRIVER_OK = 4;
    /** The driver has acknowledged the features it understands; negotiation is complete. */
    public static final int STATUS_FEATURES_OK = 8;
    /** The device has hit an error from which it cannot recover without a reset. */
    public static final int STATUS_DEVICE_NEEDS_RESET = 64;
    /** Something went wrong in the guest and it has given up on the device. */
    public static final int STATUS_FAILED = 128;

    // Reserved feature bits, VIRTIO 1.2 §6.
    /** VIRTIO_F_INDIRECT_DESC (§2.7.5.3): descriptors may point at indirect tables. */
    public static final int F_INDIRECT_DESC = 28;
    /** VIRTIO_F_EVENT_IDX (§2.7.7, §2.7.10): used_event / avail_event suppression. */
    public static final int F_EVENT_IDX = 29;
    /** VIRTIO_F_VERSION_1: the device complies with VIRTIO 1.x (no legacy interface). */
    public static final int F_VERSION_1 = 32;

    /** Feature bit {@code bit} as a mask. */
    public static long bit(int bit) {
        return 1L << bit;
    }

    /**
     * Serves a driver's read of {@code data.length} bytes at {@code offset} in a device
     * configuration space (§2.5) whose current contents are {@code config}: bytes outside it
     * read 0, so a read straddling the end returns what exists and no more.
     */
    public static void readConfig(byte[] config, int offset, byte[] data) {
        for (int i = 0; i < data.length; i++) {
            int at = offset + i;
            data[i] = at >= 0 && at < config.length ? config[at] : 0;
        }
    }

    // Device types, VIRTIO 1.2 §5.
    public static final int TYPE_NET = 1;
    public static final int TYPE_BLOCK = 2;
    public static final int TYPE_CONSOLE = 3;
    public static final int TYPE_ENTROPY = 4;

    /** The largest queue size a split virtqueue may have (§2.7: "Queue Size ... maximum 32768"). */
    public static final int MAX_QUEUE_SIZE = 32768;

    /** "No MSI-X vector" in msix_config and queue_msix_vector (§4.1.4.3, §4.1.5.1.2). */
    public static final int MSI_NO_VECTOR = 0xffff;
}
