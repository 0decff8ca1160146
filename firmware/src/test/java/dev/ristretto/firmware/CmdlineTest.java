package dev.ristretto.firmware;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class CmdlineTest {

    @Test
    void encodesWithATerminatingNul() {
        assertArrayEquals(new byte[] {'a', ' ', 'b', '=', '1', 0}, Cmdline.encode("a b=1", 10));
        assertArrayEquals(new byte[] {0}, Cmdline.encode("", 0));
    }

    @Test
    void acceptsExactlyCmdlineSizeBytes() {
        assertEquals(2048, Cmdline.encode("x".repeat(2047), 2047).length);
        assertEquals("kernel command line: append is 2048 bytes; this kernel accepts at most 2047 (shorten it)",
                assertThrows(BootSetupException.class, () -> Cmdline.encode("x".repeat(2048), 2047)).getMessage());
    }

    @Test
    void neverPassesRistrettosOwnBuffer() {
        String huge = "y".repeat((int) Layout.CMDLINE_MAX_SIZE);
        assertEquals("kernel command line: append is 65536 bytes; Ristretto passes at most 65535 (shorten it)",
                assertThrows(BootSetupException.class, () -> Cmdline.encode(huge, 1 << 20)).getMessage());
    }

    @Test
    void rejectsControlAndNonAsciiCharacters() {
        assertEquals("kernel command line: character newline (0x0a) at position 7 is not printable ASCII"
                        + " (the kernel takes one line of printable ASCII; remove it)",
                assertThrows(BootSetupException.class, () -> Cmdline.encode("console\nquiet", 100)).getMessage());
        assertThrows(BootSetupException.class, () -> Cmdline.encode("a\0b", 100));
        assertThrows(BootSetupException.class, () -> Cmdline.encode("tab\there", 100));
        assertThrows(BootSetupException.class, () -> Cmdline.encode("del\u007f", 100));
        String m = assertThrows(BootSetupException.class, () -> Cmdline.encode("caf\u00e9", 100)).getMessage();
        assertEquals("kernel command line: character U+00E9 at position 3 is not printable ASCII"
                + " (the kernel takes one line of printable ASCII; remove it)", m);
    }
}
