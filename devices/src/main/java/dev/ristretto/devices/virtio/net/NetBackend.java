package dev.ristretto.devices.virtio.net;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where a virtio-net device's Ethernet frames go and come from: a TAP device, a passt process, or
 * a test double. Frames carry no virtio-net header (VIRTIO 1.2 §5.1.6): the device adds and strips
 * it. The backend owns whatever thread receives frames; the device model stays pure.
 */
public interface NetBackend extends AutoCloseable {

    /** Transmits one frame (the buffer's remaining bytes). Called from the device's worker thread. */
    void send(ByteBuffer frame) throws IOException;

    /**
     * Starts receiving: every frame that arrives is handed to {@code sink} on the backend's own
     * thread. Called once, when the guest driver is ready.
     */
    void start(FrameSink sink);

    @Override
    void close() throws IOException;

    /** Takes received frames into the device. */
    @FunctionalInterface
    interface FrameSink {
        /**
         * Offers one received frame (the buffer's remaining bytes; copy it, the buffer is reused).
         * Returns false when the device had no room and dropped it (counted by the device).
         */
        boolean deliver(ByteBuffer frame);
    }
}
