package dev.ristretto.machine;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.nio.file.Path;
import java.util.Locale;

/**
 * One virtio-blk disk: {@code PATH[,ro][,serial=ID][,cache=none|writeback]}, the same text on the
 * command line ({@code --disk}) and in a config file.
 *
 * @param serial what VIRTIO_BLK_T_GET_ID returns (VIRTIO 1.2 §5.2.6: at most 20 bytes), or null
 * @param cacheNone O_DIRECT: bypass the host page cache
 */
public record DiskConfig(Path path, boolean readOnly, String serial, boolean cacheNone) {

    /** VIRTIO_BLK_ID_BYTES. */
    public static final int MAX_SERIAL = 20;

    public DiskConfig {
        if (serial != null && (serial.isEmpty() || serial.length() > MAX_SERIAL
                || !serial.chars().allMatch(c -> c > 0x20 && c < 0x7f && c != ','))) {
            throw new IllegalArgumentException("disk serial '" + serial + "' must be 1 to " + MAX_SERIAL
                    + " printable ASCII characters without spaces or commas");
        }
    }

    @JsonCreator
    public static DiskConfig parse(String text) {
        String[] parts = text == null ? new String[] {""} : text.split(",", -1);
        if (parts[0].isBlank()) {
            throw new IllegalArgumentException("'" + text + "' is not a disk: write PATH[,ro][,serial=ID][,cache=none|writeback]");
        }
        boolean ro = false;
        String serial = null;
        boolean cacheNone = false;
        for (int i = 1; i < parts.length; i++) {
            String p = parts[i];
            if (p.equals("ro")) {
                ro = true;
            } else if (p.startsWith("serial=")) {
                serial = p.substring("serial=".length());
            } else if (p.startsWith("cache=")) {
                String mode = p.substring("cache=".length()).toLowerCase(Locale.ROOT);
                switch (mode) {
                    case "none" -> cacheNone = true;
                    case "writeback" -> cacheNone = false;
                    default -> throw new IllegalArgumentException("disk " + parts[0] + ": cache '" + mode
                            + "' is unknown (use cache=none or cache=writeback)");
                }
            } else {
                throw new IllegalArgumentException("disk " + parts[0] + ": option '" + p
                        + "' is unknown (use ro, serial=ID or cache=none|writeback)");
            }
        }
        return new DiskConfig(Path.of(parts[0]), ro, serial, cacheNone);
    }

    public DiskConfig withPath(Path p) {
        return new DiskConfig(p, readOnly, serial, cacheNone);
    }

    @JsonValue
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(path.toString());
        if (readOnly) {
            b.append(",ro");
        }
        if (serial != null) {
            b.append(",serial=").append(serial);
        }
        if (cacheNone) {
            b.append(",cache=none");
        }
        return b.toString();
    }
}
