package dev.ristretto.firmware;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * An initial ramdisk to hand to the kernel: bytes in memory (tests, generated initramfs) or a file
 * that is streamed straight into guest RAM when the plan is written, so a large initrd is never
 * held on the Java heap.
 */
public sealed interface Initrd {

    /** What error messages call it. */
    String name();

    /** Its size in bytes (never zero). */
    long size();

    /** Copies the whole initrd into {@code target}, which is exactly {@link #size()} bytes. */
    void copyTo(MemorySegment target);

    /** An initrd held in memory; the array is not copied. */
    static Initrd of(String name, byte[] bytes) {
        Objects.requireNonNull(bytes);
        if (bytes.length == 0) {
            throw new BootSetupException("initrd " + name + " is empty; leave out --initrd instead");
        }
        return new InMemory(Objects.requireNonNull(name), bytes);
    }

    /**
     * An initrd file, checked now for existence and size and read when the plan is written.
     *
     * @throws BootSetupException when the file cannot be read or is empty
     */
    static Initrd of(Path path) {
        long size;
        try {
            if (!Files.isRegularFile(path)) {
                throw new BootSetupException("initrd " + path + " does not exist or is not a regular file");
            }
            size = Files.size(path);
        } catch (IOException e) {
            throw new BootSetupException("initrd " + path + ": cannot be read (" + e + ")", e);
        }
        if (size == 0) {
            throw new BootSetupException("initrd " + path + " is empty; leave out --initrd instead");
        }
        return new FromFile(path, size);
    }

    /** An initrd held in memory. */
    record InMemory(String name, byte[] bytes) implements Initrd {
        public InMemory {
            Objects.requireNonNull(name);
            if (bytes.length == 0) {
                throw new IllegalArgumentException("initrd " + name + " is empty");
            }
        }

        @Override
        public long size() {
            return bytes.length;
        }

        @Override
        public void copyTo(MemorySegment target) {
            MemorySegment.copy(bytes, 0, target, ValueLayout.JAVA_BYTE, 0, bytes.length);
        }
    }

    /** An initrd file of {@code size} bytes (as measured when the boot was planned). */
    record FromFile(Path path, long size) implements Initrd {
        public FromFile {
            Objects.requireNonNull(path);
            if (size <= 0) {
                throw new IllegalArgumentException("initrd " + path + " has size " + size);
            }
        }

        @Override
        public String name() {
            return path.toString();
        }

        @Override
        public void copyTo(MemorySegment target) {
            // Chunks of at most 1 GiB: a ByteBuffer view is int-indexed.
            long chunk = 1L << 30;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                if (ch.size() != size) {
                    throw new BootSetupException("initrd " + path + " changed size while Ristretto was starting (was "
                            + size + " bytes, now " + ch.size() + ")");
                }
                long done = 0;
                while (done < size) {
                    ByteBuffer buf = target.asSlice(done, Math.min(chunk, size - done)).asByteBuffer();
                    while (buf.hasRemaining()) {
                        if (ch.read(buf, done + buf.position()) < 0) {
                            throw new BootSetupException("initrd " + path + " ended after " + (done + buf.position())
                                    + " of " + size + " bytes while it was being read");
                        }
                    }
                    done += buf.capacity();
                }
            } catch (IOException e) {
                throw new BootSetupException("initrd " + path + ": cannot be read (" + e + ")", e);
            }
        }
    }
}
