package dev.ristretto.firmware.acpi;

import java.io.ByteArrayOutputStream;

/** Little-endian byte assembly and the ACPI checksum, shared by the AML encoder and the tables. */
final class Bytes {

    private Bytes() {
    }

    /** Concatenates byte arrays in order. */
    static byte[] concat(byte[]... parts) {
        int length = 0;
        for (byte[] p : parts) {
            length = Math.addExact(length, p.length);
        }
        byte[] out = new byte[length];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** {@code value} as {@code width} little-endian bytes (ACPI is little-endian, §5.2). */
    static byte[] le(long value, int width) {
        byte[] out = new byte[width];
        for (int i = 0; i < width; i++) {
            out[i] = (byte) (value >>> (8 * i));
        }
        return out;
    }

    /**
     * The byte that makes {@code data[from, to)} sum to zero modulo 256 once it is stored inside
     * that range in place of a zero: the checksum rule of every ACPI table header (ACPI 6.5
     * §5.2.6, "the entire table, including the checksum field, must add to zero"), of the RSDP
     * (§5.2.5.3) and of the MP structures (MP spec 1.4 §4.1, §4.2).
     */
    static byte checksum(byte[] data, int from, int to) {
        int sum = 0;
        for (int i = from; i < to; i++) {
            sum += data[i] & 0xff;
        }
        return (byte) -sum;
    }

    /** Sum of {@code data[from, to)} modulo 256; zero when a checksum is right. */
    static int sum(byte[] data, int from, int to) {
        int sum = 0;
        for (int i = from; i < to; i++) {
            sum += data[i] & 0xff;
        }
        return sum & 0xff;
    }

    /** A growable little-endian writer for variable-length structures. */
    static final class Writer {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Writer u8(int v) {
            out.write(v);
            return this;
        }

        Writer u16(int v) {
            return bytes(le(v, 2));
        }

        Writer u32(long v) {
            return bytes(le(v, 4));
        }

        Writer u64(long v) {
            return bytes(le(v, 8));
        }

        Writer bytes(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        /** {@code s} as ASCII, padded with {@code pad} (or cut) to exactly {@code width} bytes. */
        Writer ascii(String s, int width, char pad) {
            for (int i = 0; i < width; i++) {
                out.write(i < s.length() ? s.charAt(i) : pad);
            }
            return this;
        }

        int size() {
            return out.size();
        }

        byte[] toByteArray() {
            return out.toByteArray();
        }
    }
}
