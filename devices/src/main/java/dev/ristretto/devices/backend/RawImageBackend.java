package dev.ristretto.devices.backend;

import dev.ristretto.devices.virtio.block.BlockBackend;
import dev.ristretto.vmm.host.io.CacheMode;
import dev.ristretto.vmm.host.io.RawImage;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Objects;

/** A virtio-blk backend on a raw image file or block device ({@code --disk PATH[,ro][,cache=…]}). */
public final class RawImageBackend implements BlockBackend {
    private final RawImage image;

    public RawImageBackend(RawImage image) {
        this.image = Objects.requireNonNull(image);
    }

    /**
     * Opens, checks and locks the image; throws {@link dev.ristretto.vmm.host.io.DiskImageException}
     * with a one-sentence message (path and fix) when it cannot be used.
     */
    public static RawImageBackend open(Path path, boolean readOnly, CacheMode cache) {
        return new RawImageBackend(RawImage.open(path, readOnly, cache));
    }

    public RawImage image() {
        return image;
    }

    @Override
    public long sizeBytes() {
        return image.sizeBytes();
    }

    @Override
    public boolean readOnly() {
        return image.readOnly();
    }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        image.read(offset, dst);
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        image.write(offset, src);
    }

    @Override
    public void flush() throws IOException {
        image.flush();
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        image.discard(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        image.writeZeroes(offset, length);
    }

    @Override
    public void close() {
        image.close();
    }

    @Override
    public String toString() {
        return image.toString();
    }
}
