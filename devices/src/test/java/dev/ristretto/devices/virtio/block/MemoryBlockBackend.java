package dev.ristretto.devices.virtio.block;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A disk in memory for the block tests. It records every call as a {@link Op} so a test can
 * check that the device touched exactly the bytes of the request, and it refuses (with an
 * AssertionError, which the device does not catch) any access outside the disk: a device bug
 * there fails the test instead of being turned into IOERR.
 */
final class MemoryBlockBackend implements BlockBackend {

    record Op(String kind, long offset, long length) {
    }

    final MemorySegment disk;
    final List<Op> ops = new ArrayList<>();
    private final boolean readOnly;
    boolean failNext;
    int flushes;

    MemoryBlockBackend(Arena arena, long size, boolean readOnly) {
        disk = arena.allocate(size, 8);
        for (long i = 0; i < size; i++) {
            disk.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + (i >>> 9)));
        }
        this.readOnly = readOnly;
    }

    @Override
    public long sizeBytes() {
        return disk.byteSize();
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    private void check(String kind, long offset, long length) throws IOException {
        if (offset < 0 || length < 0 || offset + length > disk.byteSize()) {
            throw new AssertionError(kind + " outside the disk: " + offset + "+" + length);
        }
        ops.add(new Op(kind, offset, length));
        if (failNext) {
            failNext = false;
            throw new IOException("injected failure");
        }
    }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        check("read", offset, dst.byteSize());
        MemorySegment.copy(disk, offset, dst, 0, dst.byteSize());
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        if (readOnly) {
            throw new AssertionError("write to a read-only backend");
        }
        check("write", offset, src.byteSize());
        MemorySegment.copy(src, 0, disk, offset, src.byteSize());
    }

    @Override
    public void flush() throws IOException {
        flushes++;
        ops.add(new Op("flush", 0, 0));
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        check("discard", offset, length);
        // Like a punched hole: the range now reads as zeroes.
        disk.asSlice(offset, length).fill((byte) 0);
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        check("zeroes", offset, length);
        disk.asSlice(offset, length).fill((byte) 0);
    }

    @Override
    public void close() {
    }
}
