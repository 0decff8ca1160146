package dev.ristretto.vmm.host.io;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A host link that carries bare Ethernet frames (no virtio-net header): a TAP device or a passt
 * connection. The link owns one receive thread, started by {@link #start}, which hands each frame
 * to the receiver; {@link #close} stops that thread promptly and releases the host resources.
 */
public interface FrameLink extends AutoCloseable {

    /** Transmits one frame: the buffer's remaining bytes. Called from one thread at a time. */
    void send(ByteBuffer frame) throws IOException;

    /** Starts the receive thread; callable once. */
    void start(FrameReceiver receiver);

    /** Frames handed to the receiver so far. */
    long framesReceived();

    /** Frames the receiver refused (returned false: no room in the guest's queue). */
    long framesDropped();

    /** Stops the receive thread (waiting for it) and releases the link. Idempotent. */
    @Override
    void close() throws IOException;

    /** Takes received frames. */
    @FunctionalInterface
    interface FrameReceiver {
        /**
         * One frame in the buffer's remaining bytes, valid only during the call (the buffer is
         * reused). Returns false when the frame was dropped.
         */
        boolean receive(ByteBuffer frame);
    }
}
