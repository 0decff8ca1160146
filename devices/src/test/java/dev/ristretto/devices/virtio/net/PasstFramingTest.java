package dev.ristretto.devices.virtio.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

class PasstFramingTest {

    private static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    @Test
    void encodePrefixesTheBigEndianLength() {
        ByteBuffer frame = ByteBuffer.wrap(new byte[0x0102]);
        ByteBuffer out = PasstFraming.encode(frame);
        assertEquals(4 + 0x102, out.remaining());
        assertArrayEquals(new byte[] {0, 0, 1, 2}, new byte[] {out.get(0), out.get(1), out.get(2), out.get(3)});
        assertEquals(0, frame.position(), "the frame is not consumed");
        assertThrows(IllegalArgumentException.class, () -> PasstFraming.encode(ByteBuffer.allocate(0)));
        assertThrows(IllegalArgumentException.class,
                () -> PasstFraming.encode(ByteBuffer.allocate(PasstFraming.MAX_FRAME_LENGTH + 1)));
    }

    /** Property: any stream of frames, cut into any chunks, decodes to the same frames. */
    @Test
    void randomChunkingOfRandomFramesDecodesToTheSameFrames() throws Exception {
        Random rnd = new Random(20261129);
        for (int trial = 0; trial < 200; trial++) {
            List<byte[]> frames = new ArrayList<>();
            ByteArrayOutputStream stream = new ByteArrayOutputStream();
            int count = 1 + rnd.nextInt(20);
            for (int i = 0; i < count; i++) {
                int len = switch (rnd.nextInt(4)) {
                    case 0 -> 1 + rnd.nextInt(4);
                    case 1 -> PasstFraming.MAX_FRAME_LENGTH - rnd.nextInt(3);
                    default -> 1 + rnd.nextInt(2000);
                };
                byte[] f = new byte[len];
                rnd.nextBytes(f);
                frames.add(f);
                stream.writeBytes(bytes(PasstFraming.encode(ByteBuffer.wrap(f))));
            }
            byte[] all = stream.toByteArray();
            PasstFraming.Decoder decoder = new PasstFraming.Decoder();
            List<byte[]> decoded = new ArrayList<>();
            int at = 0;
            while (at < all.length) {
                int n = switch (rnd.nextInt(3)) {
                    case 0 -> 1 + rnd.nextInt(5);
                    case 1 -> 1 + rnd.nextInt(100_000);
                    default -> 1 + rnd.nextInt(1500);
                };
                n = Math.min(n, all.length - at);
                ByteBuffer chunk = ByteBuffer.wrap(all, at, n);
                decoder.feed(chunk, f -> decoded.add(bytes(f)));
                assertEquals(0, chunk.remaining(), "every byte of a chunk is consumed");
                at += n;
            }
            assertTrue(decoder.atFrameBoundary());
            assertEquals(frames.size(), decoded.size(), "trial " + trial);
            for (int i = 0; i < frames.size(); i++) {
                assertArrayEquals(frames.get(i), decoded.get(i), "trial " + trial + " frame " + i);
            }
        }
    }

    @Test
    void aPartialFrameIsHeldUntilItCompletes() throws Exception {
        PasstFraming.Decoder d = new PasstFraming.Decoder();
        List<byte[]> out = new ArrayList<>();
        d.feed(ByteBuffer.wrap(new byte[] {0, 0, 0}), f -> out.add(bytes(f)));
        assertTrue(out.isEmpty());
        d.feed(ByteBuffer.wrap(new byte[] {3, 7, 8}), f -> out.add(bytes(f)));
        assertTrue(out.isEmpty());
        assertTrue(!d.atFrameBoundary());
        d.feed(ByteBuffer.wrap(new byte[] {9, 0, 0, 0, 1, 42}), f -> out.add(bytes(f)));
        assertEquals(2, out.size());
        assertArrayEquals(new byte[] {7, 8, 9}, out.get(0));
        assertArrayEquals(new byte[] {42}, out.get(1));
    }

    @Test
    void impossibleLengthsEndTheStream() {
        PasstFraming.Decoder zero = new PasstFraming.Decoder();
        PasstFraming.FramingException e = assertThrows(PasstFraming.FramingException.class,
                () -> zero.feed(ByteBuffer.wrap(new byte[] {0, 0, 0, 0}), f -> { }));
        assertTrue(e.getMessage().contains("frame length 0"), e.getMessage());
        // Once out of step, always out of step: even a good prefix is refused.
        assertThrows(PasstFraming.FramingException.class,
                () -> zero.feed(ByteBuffer.wrap(new byte[] {0, 0, 0, 1, 5}), f -> { }));

        int tooLong = PasstFraming.MAX_FRAME_LENGTH + 1;
        PasstFraming.Decoder big = new PasstFraming.Decoder();
        assertThrows(PasstFraming.FramingException.class, () -> big.feed(
                ByteBuffer.allocate(4).putInt(0, tooLong), f -> { }));
        PasstFraming.Decoder huge = new PasstFraming.Decoder();
        assertThrows(PasstFraming.FramingException.class, () -> huge.feed(
                ByteBuffer.wrap(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff}), f -> { }));
        // The largest legal frame is fine.
        PasstFraming.Decoder max = new PasstFraming.Decoder();
        List<Integer> sizes = new ArrayList<>();
        ByteBuffer s = ByteBuffer.allocate(4 + PasstFraming.MAX_FRAME_LENGTH).putInt(0, PasstFraming.MAX_FRAME_LENGTH);
        assertDoesNotThrowFeed(max, s, sizes);
        assertEquals(List.of(PasstFraming.MAX_FRAME_LENGTH), sizes);
    }

    private static void assertDoesNotThrowFeed(PasstFraming.Decoder d, ByteBuffer s, List<Integer> sizes) {
        try {
            d.feed(s, f -> sizes.add(f.remaining()));
        } catch (PasstFraming.FramingException e) {
            throw new AssertionError(e);
        }
    }
}
