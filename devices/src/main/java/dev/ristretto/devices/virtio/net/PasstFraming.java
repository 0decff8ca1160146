package dev.ristretto.devices.virtio.net;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * QEMU's stream netdev protocol, which passt speaks on its UNIX socket ({@code passt --socket},
 * QEMU {@code -netdev stream}; passt's tap.c "tap_send_frames_passt"): every Ethernet frame is
 * preceded by its length as a 32-bit big-endian integer, and nothing else is on the stream.
 * The codec is pure: the backend owns the socket and its thread, and feeds whatever chunks
 * {@code read} returns into a {@link Decoder}.
 *
 * <p>A stream has no resynchronisation point: once a length is wrong every later byte is
 * misread. So an impossible length (0, or above {@link #MAX_FRAME_LENGTH}) is an error that ends
 * the stream rather than a frame to skip.
 */
public final class PasstFraming {

    /** Bytes of the length prefix. */
    public static final int PREFIX_LENGTH = 4;
    /** The longest frame either side may send: {@link VirtioNet#MAX_FRAME_SIZE}. */
    public static final int MAX_FRAME_LENGTH = VirtioNet.MAX_FRAME_SIZE;

    private PasstFraming() {
    }

    /** The stream is out of step: a length prefix no peer would send. */
    public static final class FramingException extends Exception {
        private static final long serialVersionUID = 1L;

        FramingException(String message) {
            super(message);
        }
    }

    /**
     * Encodes one frame (the remaining bytes of {@code frame}, which is not consumed) as it goes
     * on the stream: length prefix then frame, in a new buffer ready to write.
     */
    public static ByteBuffer encode(ByteBuffer frame) {
        int len = frame.remaining();
        if (len == 0 || len > MAX_FRAME_LENGTH) {
            throw new IllegalArgumentException("frame of " + len + " bytes cannot be sent on a passt stream (1.."
                    + MAX_FRAME_LENGTH + ")");
        }
        ByteBuffer out = ByteBuffer.allocate(PREFIX_LENGTH + len).order(ByteOrder.BIG_ENDIAN);
        out.putInt(len).put(frame.duplicate()).flip();
        return out;
    }

    /**
     * Incremental decoder: feed it the stream in chunks of any size, and it hands out each frame
     * as soon as its last byte has arrived. Not thread-safe: one decoder per stream, used by the
     * thread that reads it. After a {@link FramingException} the decoder refuses further input.
     */
    public static final class Decoder {
        private final byte[] prefix = new byte[PREFIX_LENGTH];
        private int prefixFill;
        private final ByteBuffer frame = ByteBuffer.allocate(MAX_FRAME_LENGTH);
        private int expected = -1; // frame length being assembled, or -1 while reading a prefix
        private String failure;

        /**
         * Consumes all of {@code chunk}'s remaining bytes, calling {@code frames} once per complete
         * frame with a read-only view that is valid only during the call (copy it to keep it).
         *
         * @throws FramingException when a length prefix is 0 or above {@link #MAX_FRAME_LENGTH}
         */
        public void feed(ByteBuffer chunk, Consumer<ByteBuffer> frames) throws FramingException {
            Objects.requireNonNull(frames, "frames");
            if (failure != null) {
                throw new FramingException(failure);
            }
            while (chunk.hasRemaining()) {
                if (expected < 0) {
                    int n = Math.min(PREFIX_LENGTH - prefixFill, chunk.remaining());
                    chunk.get(prefix, prefixFill, n);
                    prefixFill += n;
                    if (prefixFill < PREFIX_LENGTH) {
                        return;
                    }
                    prefixFill = 0;
                    long len = ByteBuffer.wrap(prefix).order(ByteOrder.BIG_ENDIAN).getInt() & 0xffff_ffffL;
                    if (len == 0 || len > MAX_FRAME_LENGTH) {
                        failure = "passt stream: frame length " + len + " is outside 1.." + MAX_FRAME_LENGTH
                                + "; the stream is out of step and must be closed";
                        throw new FramingException(failure);
                    }
                    expected = (int) len;
                    frame.clear().limit(expected);
                }
                int n = Math.min(frame.remaining(), chunk.remaining());
                int oldLimit = chunk.limit();
                chunk.limit(chunk.position() + n);
                frame.put(chunk);
                chunk.limit(oldLimit);
                if (!frame.hasRemaining()) {
                    expected = -1;
                    frames.accept(frame.flip().asReadOnlyBuffer());
                }
            }
        }

        /** True between frames: no partial prefix or frame is buffered (a clean end of stream). */
        public boolean atFrameBoundary() {
            return expected < 0 && prefixFill == 0;
        }
    }
}
