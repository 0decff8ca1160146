package dev.ristretto.vmm.host;

import dev.ristretto.vmm.sys.ErrnoException;
import dev.ristretto.vmm.sys.Libc;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The host terminal the guest's serial console is attached to. In raw mode every key reaches the
 * guest as typed: no line buffering, no echo by the host, and Ctrl-C / Ctrl-Z become bytes for
 * the guest instead of signals (glibc's cfmakeraw, as QEMU's {@code -serial stdio} with
 * {@code signal=off} and Cloud Hypervisor do). The VMM therefore needs its own escape key to quit.
 */
public final class Terminal {
    private Terminal() {
    }

    /**
     * Switches {@code fd} to raw mode; empty when {@code fd} is not a terminal (a pipe or file:
     * nothing to change). Close the returned {@link RawMode} to restore the saved settings.
     */
    public static Optional<RawMode> enterRawMode(int fd) {
        if (!Libc.isatty(fd)) {
            return Optional.empty();
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment termios = arena.allocate(Libc.TERMIOS_SIZE, 4);
            Libc.tcgetattr(fd, termios);
            byte[] saved = termios.toArray(ValueLayout.JAVA_BYTE);
            Libc.cfmakeraw(termios);
            Libc.tcsetattr(fd, Libc.TCSANOW, termios);
            return Optional.of(new RawMode(fd, saved));
        } catch (ErrnoException e) {
            throw new UncheckedIOException(new IOException("cannot switch terminal fd " + fd + " to raw mode: "
                    + e.getMessage(), e));
        }
    }

    /** A terminal in raw mode; {@link #close()} restores the settings saved before (idempotent). */
    public static final class RawMode implements AutoCloseable {
        private final int fd;
        private final byte[] saved;
        private final AtomicBoolean closed = new AtomicBoolean();

        private RawMode(int fd, byte[] saved) {
            this.fd = fd;
            this.saved = saved;
        }

        public int fd() {
            return fd;
        }

        @Override
        public void close() {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment termios = arena.allocate(Libc.TERMIOS_SIZE, 4);
                MemorySegment.copy(saved, 0, termios, ValueLayout.JAVA_BYTE, 0, saved.length);
                Libc.tcsetattr(fd, Libc.TCSANOW, termios);
            } catch (ErrnoException e) {
                throw new UncheckedIOException(new IOException("cannot restore terminal fd " + fd + ": "
                        + e.getMessage(), e));
            }
        }
    }
}
