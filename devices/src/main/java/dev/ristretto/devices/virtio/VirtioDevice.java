package dev.ristretto.devices.virtio;

import dev.ristretto.vmm.memory.GuestMemory;

import java.util.List;

/**
 * A virtio device behind a transport (VIRTIO 1.2 §5): what it is, what it offers, its
 * configuration space, and the work it does on its queues. The transport owns feature
 * negotiation, the status state machine, the queues' configuration and interrupts; the device
 * sees only activated queues, guest memory and a {@link VirtioInterrupt}.
 *
 * <p>A device is a pure state machine: no threads or fds of its own. Its backends (files,
 * sockets, entropy) are injected. {@link #processQueue} is called from whichever thread handles
 * the queue's notifications (a vCPU thread now, an ioeventfd thread later); configuration
 * accesses come from vCPU threads. Implementations synchronise their own state.
 */
public interface VirtioDevice {

    /** The virtio device ID (§5: 1 net, 2 block, 3 console, 4 entropy ...). */
    int deviceType();

    /**
     * Device-specific feature bits offered (§2.2, §5.x.3). The transport adds the ring and
     * transport features it implements (VERSION_1, INDIRECT_DESC, EVENT_IDX).
     */
    long deviceFeatures();

    /** The largest size of each queue (powers of two); the length is the number of queues. */
    int[] queueMaxSizes();

    /** Bytes of device-specific configuration space (§2.5); 0 for none. */
    int configSize();

    /** Reads {@code data.length} bytes of configuration space at {@code offset} (inside configSize). */
    void readConfig(int offset, byte[] data);

    /** Writes configuration space at {@code offset} (inside configSize); read-only fields ignore it. */
    void writeConfig(int offset, byte[] data);

    /**
     * The driver set DRIVER_OK (§3.1.1 step 8): start work. {@code queues} holds every queue of
     * the device by index; a queue the driver did not enable is not active and yields nothing.
     *
     * @param features the negotiated feature bits
     */
    void activate(GuestMemory memory, List<Virtqueue> queues, long features, VirtioInterrupt interrupt);

    /**
     * The driver reset the device (§2.4): forget every queue, buffer and negotiated state and
     * return to the state before activation. The queues themselves are reset by the transport.
     */
    void reset();

    /** The driver notified queue {@code index} (§2.7.13.3, §4.1.5.2): process what it made available. */
    void processQueue(int index);
}
