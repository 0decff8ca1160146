package dev.ristretto.machine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ConsoleTest {

    private static EscapeFilter.Result feed(EscapeFilter f, String s) {
        byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
        return f.filter(b, 0, b.length);
    }

    @Test
    void ctrlAxQuitsAndEverythingElsePassesThrough() {
        EscapeFilter f = new EscapeFilter();
        EscapeFilter.Result r = feed(f, "ls\r\u0001x echo");
        assertArrayEquals("ls\r".getBytes(), r.toGuest());
        assertEquals(EscapeFilter.Command.QUIT, r.command());
    }

    @Test
    void escapeSplitAcrossReadsStillWorks() {
        EscapeFilter f = new EscapeFilter();
        EscapeFilter.Result a = feed(f, "a\u0001");
        assertArrayEquals("a".getBytes(), a.toGuest());
        assertEquals(EscapeFilter.Command.NONE, a.command());
        assertEquals(EscapeFilter.Command.QUIT, feed(f, "x").command());
    }

    @Test
    void doubledCtrlASendsOneAndOtherBytesKeepTheirCtrlA() {
        EscapeFilter f = new EscapeFilter();
        assertArrayEquals(new byte[] {1, 'q', 1, 'z'}, feed(f, "\u0001\u0001q\u0001z").toGuest());
        assertEquals(EscapeFilter.Command.HELP, feed(f, "\u0001h").command());
    }

    @Test
    void writerDeliversEveryByteInOrder() {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        try (ConsoleWriter w = new ConsoleWriter(sink, "test-console")) {
            for (int i = 0; i < 100_000; i++) {
                w.write((byte) i);
            }
        }
        byte[] got = sink.toByteArray();
        assertEquals(100_000, got.length);
        for (int i = 0; i < got.length; i++) {
            assertEquals((byte) i, got[i]);
        }
    }
}
