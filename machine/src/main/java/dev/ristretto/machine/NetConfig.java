package dev.ristretto.machine;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.HexFormat;
import java.util.Locale;

/**
 * One virtio-net device: {@code tap=NAME[,mac=MAC]} (an existing TAP device) or
 * {@code user[,mac=MAC]} (a passt process: DHCP, DNS and outbound TCP/UDP without privileges).
 *
 * @param tap the TAP device's name, or null for user networking
 * @param mac the guest's MAC address (6 bytes), or null for one derived from the device's index
 */
public record NetConfig(String tap, byte[] mac) {

    public NetConfig {
        if (tap != null && (tap.isEmpty() || tap.length() > 15 || !tap.matches("[A-Za-z0-9_.:-]+"))) {
            throw new IllegalArgumentException("TAP name '" + tap + "' is not a network interface name"
                    + " (1 to 15 letters, digits, '-', '_', '.', ':')");
        }
        if (mac != null) {
            if (mac.length != 6) {
                throw new IllegalArgumentException("a MAC address has 6 bytes");
            }
            if ((mac[0] & 1) != 0) {
                throw new IllegalArgumentException("MAC " + format(mac) + " is a multicast address;"
                        + " the first byte must be even (e.g. 52:54:00:12:34:56)");
            }
            mac = mac.clone();
        }
    }

    @Override
    public byte[] mac() {
        return mac == null ? null : mac.clone();
    }

    public boolean user() {
        return tap == null;
    }

    @JsonCreator
    public static NetConfig parse(String text) {
        String[] parts = text == null ? new String[] {""} : text.split(",", -1);
        String tap;
        if (parts[0].equals("user")) {
            tap = null;
        } else if (parts[0].startsWith("tap=")) {
            tap = parts[0].substring("tap=".length());
        } else {
            throw new IllegalArgumentException("'" + text + "' is not a network: write tap=NAME[,mac=MAC] or user[,mac=MAC]");
        }
        byte[] mac = null;
        for (int i = 1; i < parts.length; i++) {
            if (parts[i].startsWith("mac=")) {
                mac = parseMac(parts[i].substring("mac=".length()));
            } else {
                throw new IllegalArgumentException("network " + parts[0] + ": option '" + parts[i]
                        + "' is unknown (use mac=MAC)");
            }
        }
        return new NetConfig(tap, mac);
    }

    static byte[] parseMac(String s) {
        String[] octets = s.split(":", -1);
        if (octets.length != 6) {
            throw new IllegalArgumentException("'" + s + "' is not a MAC address (write it like 52:54:00:12:34:56)");
        }
        byte[] mac = new byte[6];
        for (int i = 0; i < 6; i++) {
            if (!octets[i].matches("[0-9A-Fa-f]{2}")) {
                throw new IllegalArgumentException("'" + s + "' is not a MAC address (write it like 52:54:00:12:34:56)");
            }
            mac[i] = (byte) Integer.parseInt(octets[i], 16);
        }
        return mac;
    }

    static String format(byte[] mac) {
        return HexFormat.ofDelimiter(":").formatHex(mac).toLowerCase(Locale.ROOT);
    }

    /** A locally administered unicast MAC (52:54:00 is QEMU's; we use 52:52:00, "R R") for device n. */
    static byte[] defaultMac(int index) {
        return new byte[] {0x52, 0x52, 0x00, 0x12, 0x34, (byte) (0x56 + index)};
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NetConfig n && java.util.Objects.equals(tap, n.tap) && java.util.Arrays.equals(mac, n.mac);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(tap, java.util.Arrays.hashCode(mac));
    }

    @JsonValue
    @Override
    public String toString() {
        String base = tap == null ? "user" : "tap=" + tap;
        return mac == null ? base : base + ",mac=" + format(mac);
    }
}
