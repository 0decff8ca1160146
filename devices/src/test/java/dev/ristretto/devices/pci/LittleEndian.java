package dev.ristretto.devices.pci;

/**
 * Little-endian register values for tests that drive devices through byte-array accesses: PCI
 * configuration space, port I/O and BAR registers are little-endian (PCI Local Bus 3.0 §6.1;
 * VIRTIO 1.2 §4.1.3 for the virtio structures), so a test writes {@code le(value, size)} and
 * reads back {@code val(bytes)}.
 */
public final class LittleEndian {
    private LittleEndian() {
    }

    /** The low {@code size} bytes of {@code v}, least significant first. */
    public static byte[] le(long v, int size) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (v >>> (8 * i));
        }
        return b;
    }

    /** The unsigned value of {@code b} read least significant byte first. */
    public static long val(byte[] b) {
        long v = 0;
        for (int i = b.length - 1; i >= 0; i--) {
            v = (v << 8) | (b[i] & 0xff);
        }
        return v;
    }
}
