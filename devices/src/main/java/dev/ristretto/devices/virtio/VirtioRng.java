package dev.ristretto.devices.virtio;

import dev.ristretto.vmm.memory.GuestMemory;

import java.util.List;

/**
 * The entropy device (VIRTIO 1.2 §5.4): one request queue, no feature bits, no configuration
 * space. The driver posts device-writable buffers; the device fills them with random bytes from
 * the injected {@link EntropySource} (the machine passes the host's getrandom through
 * {@code SecureRandom}) and returns them with the number of bytes written.
 *
 * <p>§5.4.6.1: the device MUST place one or more random bytes into the buffer, and MAY return
 * fewer than the buffer holds. We fill at most {@link #MAX_BYTES_PER_REQUEST} per chain so one
 * huge buffer cannot make a single request take unbounded time; Linux's hw_random asks for at
 * most a page at a time anyway. Device-readable buffers in a request carry nothing for this
 * device and are ignored.
 */
public final class VirtioRng implements VirtioDevice {

    /** Where the random bytes come from. */
    @FunctionalInterface
    public interface EntropySource {
        /** Fills {@code buffer} with random bytes. */
        void fill(byte[] buffer);
    }

    public static final int QUEUE_SIZE = 256;
    public static final int MAX_BYTES_PER_REQUEST = 64 * 1024;

    private final EntropySource entropy;
    private Virtqueue queue;
    private VirtioInterrupt interrupt;
    private long bytesProvided;

    public VirtioRng(EntropySource entropy) {
        this.entropy = entropy;
    }

    @Override
    public int deviceType() {
        return Virtio.TYPE_ENTROPY;
    }

    @Override
    public long deviceFeatures() {
        return 0;
    }

    @Override
    public int[] queueMaxSizes() {
        return new int[] {QUEUE_SIZE};
    }

    @Override
    public int configSize() {
        return 0;
    }

    @Override
    public void readConfig(int offset, byte[] data) {
        java.util.Arrays.fill(data, (byte) 0);
    }

    @Override
    public void writeConfig(int offset, byte[] data) {
    }

    @Override
    public synchronized void activate(GuestMemory memory, List<Virtqueue> queues, long features,
            VirtioInterrupt interrupt) {
        this.queue = queues.get(0);
        this.interrupt = interrupt;
    }

    @Override
    public synchronized void reset() {
        queue = null;
        interrupt = null;
    }

    /** Total random bytes handed to the guest. */
    public synchronized long bytesProvided() {
        return bytesProvided;
    }

    @Override
    public void processQueue(int index) {
        Virtqueue q;
        VirtioInterrupt irq;
        synchronized (this) {
            q = queue;
            irq = interrupt;
        }
        if (q == null || index != 0) {
            return;
        }
        boolean notify = q.processAvailable(chain -> {
            int n = (int) Math.min(chain.writableLength(), MAX_BYTES_PER_REQUEST);
            byte[] bytes = new byte[n];
            entropy.fill(bytes);
            int written = chain.write(0, bytes);
            synchronized (this) {
                bytesProvided += written;
            }
            return written;
        });
        if (notify) {
            irq.usedBuffers(0);
        }
    }
}
