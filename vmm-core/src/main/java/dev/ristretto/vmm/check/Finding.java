package dev.ristretto.vmm.check;

import java.util.Locale;
import java.util.Objects;

/**
 * One line of the report.
 *
 * @param name   what was checked, e.g. "/dev/kvm" or "KVM_CAP_IRQFD"
 * @param status the verdict
 * @param detail what was found
 * @param fix    how to fix it, empty when there is nothing to fix
 */
public record Finding(String name, Status status, String detail, String fix) {
    public Finding {
        Objects.requireNonNull(name);
        Objects.requireNonNull(status);
        Objects.requireNonNull(detail);
        Objects.requireNonNull(fix);
    }

    public enum Status {
        /** Fine. */
        OK,
        /** Works, but a feature is unavailable or slower; does not stop a Linux guest from booting. */
        WARN,
        /** Stops Ristretto from booting a full Linux guest here. */
        FAIL,
        /** Not checked because an earlier check failed. */
        SKIP;

        /** "ok", "warn", "FAIL", "skip": FAIL in capitals so it stands out in a terminal. */
        public String label() {
            return this == FAIL ? "FAIL" : name().toLowerCase(Locale.ROOT);
        }
    }

    static Finding ok(String name, String detail) {
        return new Finding(name, Status.OK, detail, "");
    }

    static Finding warn(String name, String detail, String fix) {
        return new Finding(name, Status.WARN, detail, fix);
    }

    static Finding fail(String name, String detail, String fix) {
        return new Finding(name, Status.FAIL, detail, fix);
    }

    static Finding skip(String name, String detail) {
        return new Finding(name, Status.SKIP, detail, "");
    }
}
