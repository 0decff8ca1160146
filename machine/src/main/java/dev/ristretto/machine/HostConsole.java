package dev.ristretto.machine;

import dev.ristretto.devices.virtio.console.ConsoleSink;
import dev.ristretto.devices.serial.SerialSink;
import dev.ristretto.vmm.host.Terminal;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * The host side of COM1: where the guest's output goes and where its input comes from.
 * For {@code stdio} the terminal is put in raw mode (so keys reach the guest as typed, Ctrl-C
 * included) and always restored — on close, and by a shutdown hook if the JVM is ended by a
 * signal. Ctrl-A x ends the machine, as in QEMU.
 */
final class HostConsole implements AutoCloseable {
    private final SerialConfig config;
    private final ConsoleWriter writer;
    private final FileChannel file;
    private boolean begun;
    private Optional<Terminal.RawMode> rawMode = Optional.empty();
    private Thread shutdownHook;
    private Thread inputThread;
    private volatile InputTarget target;
    private volatile Runnable onQuit;
    private volatile boolean closed;

    private HostConsole(SerialConfig config, ConsoleWriter writer, FileChannel file) {
        this.config = config;
        this.writer = writer;
        this.file = file;
    }

    /** The guest is about to run for the first time: a serial file starts empty now. */
    void begin() {
        if (file != null && !begun) {
            begun = true;
            try {
                file.truncate(0);
            } catch (IOException e) {
                throw SetupException.usage("serial file " + config.path() + " cannot be written (" + e.getMessage()
                        + "): choose another path for --serial file:PATH");
            }
        }
    }

    /** Opens the destination; a file that cannot be written is a usage error, named. */
    static HostConsole open(SerialConfig config) {
        return switch (config.kind()) {
            case NONE -> new HostConsole(config, null, null);
            case STDIO -> new HostConsole(config,
                    new ConsoleWriter(new FileOutputStream(FileDescriptor.out), "console-out"), null);
            case FILE -> {
                // Opened (so an unwritable path fails now) but not truncated: a boot refused later
                // (a locked disk, a missing TAP) must not wipe the log of the previous run.
                // begin() truncates it when the guest is about to run.
                FileChannel channel;
                try {
                    channel = FileChannel.open(config.path(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                } catch (IOException e) {
                    throw SetupException.usage("serial file " + config.path() + " cannot be written (" + e.getMessage()
                            + "): choose another path for --serial file:PATH");
                }
                yield new HostConsole(config, new ConsoleWriter(Channels.newOutputStream(channel), "console-out"),
                        channel);
            }
        };
    }

    /** Where keyboard input goes: the UART's or the virtio console's receive queue. */
    @FunctionalInterface
    interface InputTarget {
        /** Takes up to {@code len} bytes; returns how many it accepted (0 when full). */
        int enqueue(byte[] data, int off, int len);
    }

    /** Where the virtio console's transmit queue writes: the same output as the UART. */
    ConsoleSink virtioSink() {
        return writer == null ? ConsoleSink.DISCARD : (data, off, len) -> {
            for (int i = off; i < off + len; i++) {
                writer.write(data[i]);
            }
        };
    }

    /** Where the UART's transmitter writes. */
    SerialSink sink() {
        return writer == null ? SerialSink.DISCARD : writer::write;
    }

    /**
     * Forwards the terminal's input to {@code input} (stdio only); {@code quit} runs when the user
     * types Ctrl-A x. Called again after a guest reboot with the new boot's device: the terminal
     * stays in raw mode and the one reader thread switches to the new target.
     */
    void attachInput(InputTarget input, Runnable quit) {
        target = input;
        onQuit = quit;
        if (config.kind() != SerialConfig.Kind.STDIO || inputThread != null) {
            return;
        }
        rawMode = Terminal.enterRawMode(0);
        if (rawMode.isPresent()) {
            Terminal.RawMode raw = rawMode.get();
            shutdownHook = Thread.ofPlatform().unstarted(raw::close);
            Runtime.getRuntime().addShutdownHook(shutdownHook);
        }
        InputStream in = new FileInputStream(FileDescriptor.in);
        // A daemon: a read(2) on a terminal cannot be interrupted, and the JVM must not wait for it.
        inputThread = Thread.ofPlatform().name("console-in").daemon().start(() -> pump(in));
    }

    private void pump(InputStream in) {
        EscapeFilter escape = new EscapeFilter();
        byte[] buf = new byte[4096];
        try {
            int n;
            while (!closed && (n = in.read(buf)) > 0) {
                EscapeFilter.Result r = escape.filter(buf, 0, n);
                feed(r.toGuest());
                switch (r.command()) {
                    case QUIT -> {
                        onQuit.run();
                        return;
                    }
                    case HELP -> print(EscapeFilter.help());
                    case NONE -> { }
                }
            }
        } catch (IOException e) {
            // stdin closed or unreadable: the guest just gets no more input.
        }
    }

    /** Hands bytes to the UART, waiting while its host queue is full (the guest is not reading). */
    private void feed(byte[] data) {
        int off = 0;
        while (off < data.length && !closed) {
            int n = target.enqueue(data, off, data.length - off);
            off += n;
            if (n == 0) {
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void print(String s) {
        if (writer != null) {
            for (byte b : s.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
                writer.write(b);
            }
        }
    }

    /** Flushes output, restores the terminal. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (writer != null) {
            writer.close();
        }
        rawMode.ifPresent(Terminal.RawMode::close);
        if (shutdownHook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException e) {
                // The JVM is already shutting down; the hook restores the terminal itself.
            }
        }
        if (file != null) {
            try {
                file.close();
            } catch (IOException e) {
                System.getLogger(HostConsole.class.getName()).log(System.Logger.Level.WARNING,
                        "closing serial file " + config.path() + ": " + e.getMessage());
            }
        }
    }

}
