package dev.ristretto.devices.virtio;

import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * One available descriptor chain, already walked and validated by {@link Virtqueue#pop()}: every
 * buffer lies inside guest RAM, the device-readable buffers all come before the device-writable
 * ones (VIRTIO 1.2 §2.7.4.2), and the total length fits in 32 bits (§2.7.5). The descriptors were
 * copied out of guest memory once, so a guest rewriting its descriptor table afterwards cannot
 * change what the device sees (no time-of-check/time-of-use gap); the buffer contents, of course,
 * stay in guest RAM and are read or written through {@link GuestMemory}, which checks again.
 *
 * <p>Not thread-safe: a chain belongs to the thread that popped it until it is returned with
 * {@link Virtqueue#addUsed(int, int)}.
 */
public final class DescriptorChain {

    /** One guest buffer of the chain: {@code length} bytes at {@code address}. */
    public record Buffer(GuestAddress address, int length, boolean writable) {
        /** The length as an unsigned number (a descriptor's len is a u32). */
        public long unsignedLength() {
            return Integer.toUnsignedLong(length);
        }
    }

    private final GuestMemory memory;
    private final int head;
    private final List<Buffer> readable;
    private final List<Buffer> writable;
    private final long readableLength;
    private final long writableLength;

    DescriptorChain(GuestMemory memory, int head, List<Buffer> readable, List<Buffer> writable) {
        this.memory = memory;
        this.head = head;
        this.readable = List.copyOf(readable);
        this.writable = List.copyOf(writable);
        this.readableLength = total(readable);
        this.writableLength = total(writable);
    }

    private static long total(List<Buffer> buffers) {
        long sum = 0;
        for (Buffer b : buffers) {
            sum += b.unsignedLength();
        }
        return sum;
    }

    /** The index of the chain's head descriptor: the id to return in the used ring. */
    public int head() {
        return head;
    }

    /** Device-readable buffers (driver to device), in chain order. */
    public List<Buffer> readable() {
        return readable;
    }

    /** Device-writable buffers (device to driver), in chain order. */
    public List<Buffer> writable() {
        return writable;
    }

    /** Total bytes of the device-readable buffers. */
    public long readableLength() {
        return readableLength;
    }

    /** Total bytes of the device-writable buffers. */
    public long writableLength() {
        return writableLength;
    }

    /**
     * Copies up to {@code dst.length} bytes starting {@code offset} bytes into the readable part
     * of the chain (as if its buffers were one byte string) into {@code dst}. Returns the number
     * of bytes copied, which is less than {@code dst.length} when the chain is shorter.
     */
    public int read(long offset, byte[] dst) {
        return copy(readable, offset, dst, false);
    }

    /**
     * Copies {@code src} into the writable part of the chain starting {@code offset} bytes in.
     * Returns the number of bytes written, less than {@code src.length} when the chain is
     * shorter.
     */
    public int write(long offset, byte[] src) {
        return copy(writable, offset, src, true);
    }

    private int copy(List<Buffer> buffers, long offset, byte[] bytes, boolean toGuest) {
        if (offset < 0) {
            throw new IllegalArgumentException("negative offset " + offset);
        }
        long skip = offset;
        int done = 0;
        for (Buffer b : buffers) {
            if (done == bytes.length) {
                break;
            }
            long len = b.unsignedLength();
            if (skip >= len) {
                skip -= len;
                continue;
            }
            int n = (int) Math.min(len - skip, bytes.length - done);
            MemorySegment seg = memory.slice(b.address().checkedAdd(skip), n);
            if (toGuest) {
                MemorySegment.copy(bytes, done, seg, ValueLayout.JAVA_BYTE, 0, n);
            } else {
                MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, 0, bytes, done, n);
            }
            done += n;
            skip = 0;
        }
        return done;
    }

    @Override
    public String toString() {
        return "DescriptorChain[head=" + head + ", readable=" + readableLength + " bytes in "
                + readable.size() + ", writable=" + writableLength + " bytes in " + writable.size() + "]";
    }
}
