package dev.ristretto.vmm.host.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The length-prefixed stream format, fed in every split the socket could produce. */
class StreamFrameDecoderTest {

    private static byte[] encode(List<byte[]> frames) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] f : frames) {
            out.writeBytes(StreamFrameDecoder.header(f.length).array());
            out.writeBytes(f);
        }
        return out.toByteArray();
    }

    private static List<byte[]> feed(StreamFrameDecoder d, byte[] stream, int[] cuts) throws IOException {
        List<byte[]> got = new ArrayList<>();
        int pos = 0;
        for (int cut : cuts) {
            int end = Math.min(stream.length, cut);
            do { // like a socket read: never more than the buffer has room for
                int n = Math.min(end - pos, d.buffer().remaining());
                d.buffer().put(stream, pos, n);
                pos += n;
                d.decode(f -> {
                    byte[] c = new byte[f.remaining()];
                    f.get(c);
                    return got.add(c);
                });
            } while (pos < end);
        }
        return got;
    }

    @Test
    void framesSurviveAnySplit() throws IOException {
        Random r = new Random(7);
        for (int round = 0; round < 200; round++) {
            List<byte[]> frames = new ArrayList<>();
            for (int i = 0, n = 1 + r.nextInt(6); i < n; i++) {
                byte[] f = new byte[1 + r.nextInt(r.nextBoolean() ? 100 : 2000)];
                r.nextBytes(f);
                frames.add(f);
            }
            byte[] stream = encode(frames);
            int[] cuts = new int[1 + r.nextInt(10)];
            for (int i = 0; i < cuts.length - 1; i++) {
                cuts[i] = r.nextInt(stream.length + 1);
            }
            java.util.Arrays.sort(cuts, 0, cuts.length - 1);
            cuts[cuts.length - 1] = stream.length;
            List<byte[]> got = feed(new StreamFrameDecoder(4096), stream, cuts);
            assertEquals(frames.size(), got.size());
            for (int i = 0; i < frames.size(); i++) {
                assertArrayEquals(frames.get(i), got.get(i));
            }
        }
    }

    @Test
    void aMaximumSizeFrameFitsTheBuffer() throws IOException {
        byte[] f = new byte[64];
        f[63] = 9;
        byte[] stream = encode(List.of(f, f));
        StreamFrameDecoder d = new StreamFrameDecoder(64);
        List<byte[]> got = feed(d, stream, new int[] {60, 68, 100, stream.length});
        assertEquals(2, got.size());
        assertEquals(9, got.get(1)[63]);
    }

    @Test
    void impossibleLengthsAreErrors() {
        StreamFrameDecoder d = new StreamFrameDecoder(1500);
        d.buffer().putInt(0);
        assertThrows(IOException.class, () -> d.decode(f -> true));
        StreamFrameDecoder big = new StreamFrameDecoder(1500);
        big.buffer().putInt(1501);
        assertThrows(IOException.class, () -> big.decode(f -> true));
        StreamFrameDecoder neg = new StreamFrameDecoder(1500);
        neg.buffer().put(ByteBuffer.allocate(4).putInt(0, -1));
        assertThrows(IOException.class, () -> neg.decode(f -> true));
    }
}
