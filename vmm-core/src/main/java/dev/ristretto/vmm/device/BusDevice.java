package dev.ristretto.vmm.device;

/**
 * A device as a bus sees it: reads and writes at an offset from the base of the range the device
 * was inserted at. {@code data.length} is the access size (1, 2, 4 or 8 bytes, little-endian).
 *
 * <p>Implementations are pure state machines: no threads, fds or clocks of their own. They may be
 * called from several vCPU threads, so each device synchronises its own state.
 */
public interface BusDevice {

    /** Fills {@code data} with the value read at {@code offset}. */
    void read(long offset, byte[] data);

    /** Applies the write of {@code data} at {@code offset}. */
    void write(long offset, byte[] data);
}
