package dev.ristretto.machine;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * Decouples the guest's serial output from the host terminal. A vCPU thread's {@link #write}
 * only appends to a buffer; one daemon thread writes whatever has accumulated in a single
 * {@code write(2)}, so a slow terminal never stalls a vCPU and a kernel's boot log costs a few
 * hundred system calls, not one per byte. When the buffer is full (the terminal is stuck) the
 * oldest bytes are kept and new ones dropped and counted, so the guest is never blocked.
 */
public final class ConsoleWriter implements AutoCloseable {
    private static final int CAPACITY = 1 << 20;

    private final OutputStream out;
    private final Thread thread;
    private byte[] buf = new byte[4096];
    private int len;
    private long dropped;
    private boolean closed;
    private IOException failure;

    public ConsoleWriter(OutputStream out, String threadName) {
        this.out = out;
        this.thread = Thread.ofPlatform().name(threadName).daemon().unstarted(this::drain);
        this.thread.start();
    }

    /** Appends one byte of guest output; never blocks on the terminal. */
    public synchronized void write(byte b) {
        if (len == buf.length) {
            if (buf.length >= CAPACITY) {
                dropped++;
                return;
            }
            buf = Arrays.copyOf(buf, buf.length * 2);
        }
        buf[len++] = b;
        if (len == 1) {
            notifyAll();
        }
    }

    public synchronized long droppedBytes() {
        return dropped;
    }

    private void drain() {
        byte[] chunk = new byte[0];
        while (true) {
            int n;
            synchronized (this) {
                while (len == 0 && !closed) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
                if (len == 0) {
                    notifyAll();
                    return;
                }
                if (chunk.length < len) {
                    chunk = new byte[buf.length];
                }
                System.arraycopy(buf, 0, chunk, 0, len);
                n = len;
                len = 0;
            }
            try {
                out.write(chunk, 0, n);
                out.flush();
            } catch (IOException e) {
                synchronized (this) {
                    failure = e;
                    closed = true;
                    len = 0;
                    notifyAll();
                }
                return;
            }
        }
    }

    /** Writes out what is buffered, then stops the writer thread. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The error that stopped output, or null. */
    public synchronized IOException failure() {
        return failure;
    }
}
