package dev.ristretto.devices.virtio.console;

/**
 * Where a virtio console puts the bytes the guest transmits (its hvc0 output). Called from the
 * device's worker thread, in the order the guest queued the bytes. The sink must not throw: a
 * host-side output failure is the sink's to record, not the guest's to see.
 */
@FunctionalInterface
public interface ConsoleSink {

    /** Takes {@code len} bytes of {@code data} from {@code off}; the array is reused after the call. */
    void write(byte[] data, int off, int len);

    /** A sink that discards everything. */
    ConsoleSink DISCARD = (data, off, len) -> { };
}
