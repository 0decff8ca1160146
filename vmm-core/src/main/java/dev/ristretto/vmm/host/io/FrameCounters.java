package dev.ristretto.vmm.host.io;

import dev.ristretto.vmm.host.io.FrameLink.FrameReceiver;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The two numbers every {@link FrameLink} reports, kept the same way by each link's receive loop:
 * a frame counts as received when it is handed to the receiver, and also as dropped when the
 * receiver refuses it. Written by the receive thread, read by any thread.
 */
final class FrameCounters {
    private final AtomicLong received = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();

    /** {@code receiver}, counting every frame it is given and every frame it refuses. */
    FrameReceiver counting(FrameReceiver receiver) {
        return frame -> {
            received.incrementAndGet();
            boolean taken = receiver.receive(frame);
            if (!taken) {
                dropped.incrementAndGet();
            }
            return taken;
        };
    }

    /** {@link FrameLink#framesReceived}. */
    long received() {
        return received.get();
    }

    /** {@link FrameLink#framesDropped}. */
    long dropped() {
        return dropped.get();
    }
}
