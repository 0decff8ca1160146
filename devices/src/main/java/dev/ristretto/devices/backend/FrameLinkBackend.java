package dev.ristretto.devices.backend;

import dev.ristretto.devices.virtio.net.NetBackend;
import dev.ristretto.vmm.host.io.FrameLink;
import dev.ristretto.vmm.host.io.PasstLink;
import dev.ristretto.vmm.host.io.TapDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * A virtio-net backend on a host frame link: a TAP device ({@code --net tap=NAME}) or passt
 * ({@code --net user}). The link's receive thread calls the device's sink directly; a frame the
 * device has no room for is counted by both sides and dropped, as a NIC drops when its ring is full.
 */
public final class FrameLinkBackend implements NetBackend {
    private final FrameLink link;

    public FrameLinkBackend(FrameLink link) {
        this.link = Objects.requireNonNull(link);
    }

    /** Attaches to the existing TAP device {@code name}; throws NetBackendException with the fix. */
    public static FrameLinkBackend tap(String name) {
        return new FrameLinkBackend(TapDevice.open(name));
    }

    /** Starts passt and connects to it; throws NetBackendException when passt is missing or fails. */
    public static FrameLinkBackend passt() {
        return new FrameLinkBackend(PasstLink.launch());
    }

    public FrameLink link() {
        return link;
    }

    @Override
    public void send(ByteBuffer frame) throws IOException {
        link.send(frame);
    }

    @Override
    public void start(FrameSink sink) {
        Objects.requireNonNull(sink);
        link.start(sink::deliver);
    }

    @Override
    public void close() throws IOException {
        link.close();
    }

    @Override
    public String toString() {
        return link.toString();
    }
}
