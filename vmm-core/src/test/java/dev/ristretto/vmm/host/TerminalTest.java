package dev.ristretto.vmm.host;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.sys.ErrnoException;
import dev.ristretto.vmm.sys.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** Raw mode on a pseudo-terminal (the pty master is a tty too), and the non-tty case. */
class TerminalTest {
    /** c_lflag is the fourth tcflag_t; ICANON and ECHO are bits 0x2 and 0x8 (termios.h). */
    private static final long C_LFLAG = 12;
    private static final int ICANON = 0x2;
    private static final int ECHO = 0x8;

    private static byte[] termios(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment t = arena.allocate(Libc.TERMIOS_SIZE, 4);
            Libc.tcgetattr(fd, t);
            return t.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    private static int lflag(byte[] termios) {
        return MemorySegment.ofArray(termios).get(ValueLayout.JAVA_INT_UNALIGNED, C_LFLAG);
    }

    @Test
    void notATerminalGivesEmpty() {
        int fd = Libc.eventfd(0, Libc.EFD_CLOEXEC);
        try {
            assertEquals(Optional.empty(), Terminal.enterRawMode(fd));
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void rawModeIsEnteredAndRestored() {
        int fd;
        try {
            fd = Libc.open("/dev/ptmx", Libc.O_RDWR | Libc.O_CLOEXEC);
        } catch (ErrnoException e) {
            Assumptions.abort("no pseudo-terminals here: " + e.getMessage());
            return;
        }
        try {
            byte[] before = termios(fd);
            assertTrue((lflag(before) & ICANON) != 0, "a new pty starts in canonical mode");
            Terminal.RawMode raw = Terminal.enterRawMode(fd).orElseThrow();
            int rawFlags = lflag(termios(fd));
            assertFalse((rawFlags & ICANON) != 0, "ICANON still set");
            assertFalse((rawFlags & ECHO) != 0, "ECHO still set");
            raw.close();
            assertArrayEquals(before, termios(fd));
            raw.close(); // idempotent
            assertArrayEquals(before, termios(fd));
        } finally {
            Libc.close(fd);
        }
    }
}
