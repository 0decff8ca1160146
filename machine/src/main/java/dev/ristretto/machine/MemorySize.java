package dev.ristretto.machine;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * A size in bytes written the way users write it: {@code 512M}, {@code 2G}, {@code 65536K},
 * {@code 1073741824} (binary units: K = 1024). JSON holds it as that string.
 */
public record MemorySize(long bytes) {

    public MemorySize {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative size " + bytes);
        }
    }

    public static MemorySize ofMiB(long mib) {
        return new MemorySize(Math.multiplyExact(mib, 1L << 20));
    }

    /** Parses {@code text}; throws {@link IllegalArgumentException} with a message a user can act on. */
    @JsonCreator
    public static MemorySize parse(String text) {
        String s = text == null ? "" : text.trim().toUpperCase(Locale.ROOT);
        if (s.endsWith("IB")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("B") && s.length() > 1 && !Character.isDigit(s.charAt(s.length() - 2))) {
            s = s.substring(0, s.length() - 1);
        }
        int shift = 0;
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'K' -> shift = 10;
                case 'M' -> shift = 20;
                case 'G' -> shift = 30;
                case 'T' -> shift = 40;
                default -> shift = -1;
            }
            if (shift >= 0) {
                s = s.substring(0, s.length() - 1);
            } else {
                shift = 0;
            }
        }
        if (s.isEmpty() || !s.chars().allMatch(Character::isDigit) || s.length() > 19) {
            throw new IllegalArgumentException("'" + text + "' is not a size (write it like 512M, 2G or 1048576)");
        }
        long n = Long.parseLong(s);
        if (n > (Long.MAX_VALUE >> shift)) {
            throw new IllegalArgumentException("'" + text + "' is too large");
        }
        return new MemorySize(n << shift);
    }

    /** The shortest exact form: 512M, 2G, 1536M, 4097K, 12345. */
    @JsonValue
    @Override
    public String toString() {
        String[] units = {"T", "G", "M", "K"};
        int[] shifts = {40, 30, 20, 10};
        for (int i = 0; i < units.length; i++) {
            long unit = 1L << shifts[i];
            if (bytes != 0 && bytes % unit == 0) {
                return (bytes >> shifts[i]) + units[i];
            }
        }
        return Long.toString(bytes);
    }
}
