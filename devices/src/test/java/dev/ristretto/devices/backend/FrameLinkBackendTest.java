package dev.ristretto.devices.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.devices.virtio.net.NetBackend;
import dev.ristretto.vmm.host.io.FrameLink;
import dev.ristretto.vmm.host.io.NetBackendException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The adapter passes frames both ways and reports the device's drops back to the link. */
class FrameLinkBackendTest {

    /** A link whose "receive thread" is the test itself. */
    private static final class FakeLink implements FrameLink {
        final List<ByteBuffer> sent = new ArrayList<>();
        FrameReceiver receiver;
        boolean closed;

        @Override
        public void send(ByteBuffer frame) {
            sent.add(frame);
        }

        @Override
        public void start(FrameReceiver r) {
            receiver = r;
        }

        @Override
        public long framesReceived() {
            return 0;
        }

        @Override
        public long framesDropped() {
            return 0;
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    @Test
    void framesPassThroughAndDropsAreReported() throws Exception {
        FakeLink link = new FakeLink();
        List<Integer> delivered = new ArrayList<>();
        try (NetBackend net = new FrameLinkBackend(link)) {
            ByteBuffer out = ByteBuffer.allocate(60);
            net.send(out);
            assertSame(out, link.sent.get(0));
            net.start(frame -> {
                delivered.add(frame.remaining());
                return delivered.size() < 2; // the device's queue fills after one frame
            });
            assertTrue(link.receiver.receive(ByteBuffer.allocate(64)));
            assertFalse(link.receiver.receive(ByteBuffer.allocate(70)));
        }
        assertEquals(List.of(64, 70), delivered);
        assertTrue(link.closed);
    }

    @Test
    void aMissingTapIsExplained() {
        String name = "rnotap" + (ProcessHandle.current().pid() % 100000);
        String msg = assertThrows(NetBackendException.class, () -> FrameLinkBackend.tap(name)).getMessage();
        assertTrue(msg.startsWith("TAP device " + name + " does not exist: create it with: sudo ip tuntap add dev " + name),
                msg);
    }
}
