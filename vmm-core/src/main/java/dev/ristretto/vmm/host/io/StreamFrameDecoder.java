package dev.ristretto.vmm.host.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Splits QEMU's stream-socket framing (each Ethernet frame preceded by its length as a 32-bit
 * big-endian integer; QEMU net/stream.c, passt tap.c) back into frames. The devices module is to
 * gain a pure codec for the same format (PasstFraming); it had not landed when this was written, and
 * vmm-core cannot depend on devices, so this small decoder stays private to the package.
 *
 * <p>Bytes go into {@link #buffer()} (the caller reads from the socket into it); {@link #decode}
 * hands out every complete frame and keeps a partial one for the next read. A length of 0 or above
 * {@code maxFrame} means the stream is corrupt (or not passt): we cannot resynchronise, so that
 * is an error.
 */
final class StreamFrameDecoder {
    private final ByteBuffer buf;
    private final int maxFrame;

    StreamFrameDecoder(int maxFrame) {
        this.maxFrame = maxFrame;
        // Room for one whole frame and its length, so a frame always fits once compacted.
        this.buf = ByteBuffer.allocateDirect(4 + maxFrame).order(ByteOrder.BIG_ENDIAN);
    }

    /** Where the caller puts the next bytes (in write mode: position = bytes held). */
    ByteBuffer buffer() {
        return buf;
    }

    /** Delivers every complete frame held, then keeps the remainder for the next read. */
    void decode(FrameLink.FrameReceiver sink) throws IOException {
        buf.flip();
        try {
            while (buf.remaining() >= 4) {
                int start = buf.position();
                long length = Integer.toUnsignedLong(buf.getInt(start));
                if (length == 0 || length > maxFrame) {
                    throw new IOException("stream framing: frame length " + length + " is outside 1.." + maxFrame);
                }
                if (buf.remaining() < 4 + length) {
                    break;
                }
                ByteBuffer frame = buf.slice(start + 4, (int) length);
                buf.position(start + 4 + (int) length);
                sink.receive(frame);
            }
        } finally {
            buf.compact();
        }
    }

    /** Encodes the 4-byte big-endian length prefix for a frame of {@code length} bytes. */
    static ByteBuffer header(int length) {
        return ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN).putInt(0, length);
    }
}
