package dev.ristretto.devices.virtio;

/**
 * How a device tells its driver something happened; the transport turns it into an MSI-X
 * message or INTx plus the ISR bit (VIRTIO 1.2 §2.3, §4.1.5.3-4).
 */
public interface VirtioInterrupt {

    /**
     * The device put buffers in queue {@code queue}'s used ring. The transport sends a used
     * buffer notification only if the driver wants one now (§2.7.7: event index or
     * VIRTQ_AVAIL_F_NO_INTERRUPT), so devices call this after every batch.
     */
    void usedBuffers(int queue);

    /** The device configuration space changed (§2.5.1, §4.1.5.3): bumps config_generation and notifies. */
    void configChanged();
}
