package dev.ristretto.firmware.elf;

import dev.ristretto.firmware.KernelImageException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/** Reads a kernel file whole, for {@link KernelFile#load} and {@link ElfKernel#load}, which parse it from memory. */
final class KernelBytes {
    private KernelBytes() {
    }

    /**
     * The bytes of the file at {@code path}.
     *
     * @throws KernelImageException when the file cannot be read, or is larger than a Java array can hold
     */
    static byte[] read(Path path) {
        Objects.requireNonNull(path);
        try {
            long size = Files.size(path);
            // Files.readAllBytes cannot return more than the JDK's largest byte[], Integer.MAX_VALUE - 8.
            if (size > Integer.MAX_VALUE - 8) {
                throw new KernelImageException("kernel " + path + ": file is " + size + " bytes, too large for Ristretto"
                        + " to load (at most 2 GiB)");
            }
            return Files.readAllBytes(path);
        } catch (IOException e) {
            throw new KernelImageException("kernel " + path + ": cannot be read (" + e + ")", e);
        }
    }
}
