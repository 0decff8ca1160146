package dev.ristretto.firmware.acpi;

/** Test helper: bytes from a string of hex pairs ("08 5F 53"). */
final class Hex {

    private Hex() {
    }

    static byte[] bytes(String hex) {
        String s = hex.replaceAll("\\s+", "");
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return out;
    }

    static String of(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) {
            if (!sb.isEmpty()) {
                sb.append(' ');
            }
            sb.append(String.format("%02X", x & 0xff));
        }
        return sb.toString();
    }
}
