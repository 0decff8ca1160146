package dev.ristretto.machine;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** What a guest reboot does: end Ristretto with exit code 0, or boot the guest again. */
public enum OnReboot {
    EXIT, RESTART;

    @JsonCreator
    public static OnReboot parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException("'" + text + "' is not a reboot action (use exit or restart)");
        }
    }

    @JsonValue
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
