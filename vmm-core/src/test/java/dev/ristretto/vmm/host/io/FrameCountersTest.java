package dev.ristretto.vmm.host.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.host.io.FrameLink.FrameReceiver;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class FrameCountersTest {

    @Test
    void countsEveryFrameHandedOnAndEveryFrameRefused() {
        FrameCounters counters = new FrameCounters();
        List<Integer> seen = new ArrayList<>();
        FrameReceiver takesShortFrames = frame -> {
            seen.add(frame.remaining());
            return frame.remaining() < 100;
        };
        FrameReceiver counting = counters.counting(takesShortFrames);

        assertTrue(counting.receive(ByteBuffer.allocate(60)));
        assertFalse(counting.receive(ByteBuffer.allocate(1500)), "the receiver's answer passes through");
        assertTrue(counting.receive(ByteBuffer.allocate(64)));

        assertEquals(List.of(60, 1500, 64), seen, "every frame reaches the receiver, in order");
        assertEquals(3, counters.received());
        assertEquals(1, counters.dropped());
    }
}
