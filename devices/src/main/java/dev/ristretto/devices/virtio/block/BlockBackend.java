package dev.ristretto.devices.virtio.block;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Where a virtio-blk device's sectors live. The device model is pure; the host side (a raw image
 * file opened through vmm-core, or an in-memory disk in tests) implements this. Transfers go
 * straight between the backing store and slices of guest RAM, without a heap copy.
 *
 * <p>Every method may be called from the device's worker thread only; implementations need not
 * be thread-safe. An {@link IOException} becomes VIRTIO_BLK_S_IOERR for that request (VIRTIO 1.2
 * §5.2.6) and never stops the VM.
 */
public interface BlockBackend extends AutoCloseable {

    /** Capacity in bytes (a multiple of 512). */
    long sizeBytes();

    /** True when writes, discards and write-zeroes must be refused (VIRTIO_BLK_F_RO). */
    boolean readOnly();

    /** Reads {@code dst.byteSize()} bytes at {@code offset}; short reads past the end are an error. */
    void read(long offset, MemorySegment dst) throws IOException;

    /** Writes all of {@code src} at {@code offset}. */
    void write(long offset, MemorySegment src) throws IOException;

    /** Makes every completed write durable (fdatasync): nothing acknowledged is lost. */
    void flush() throws IOException;

    /** Lets the store drop [offset, offset+length); later reads return zeroes or the old data. */
    void discard(long offset, long length) throws IOException;

    /** Makes [offset, offset+length) read as zeroes. */
    void writeZeroes(long offset, long length) throws IOException;

    @Override
    void close() throws IOException;
}
