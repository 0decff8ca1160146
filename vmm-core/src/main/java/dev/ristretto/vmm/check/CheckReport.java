package dev.ristretto.vmm.check;

import dev.ristretto.vmm.kvm.Capability;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * What {@link HostCheck} decided: one {@link Finding} per check, the virtualization kind, and
 * whether Ristretto can boot a full Linux guest here (with the reason when it cannot).
 *
 * @param reason the last line of the report: why Ristretto can or cannot boot a full Linux guest
 */
public record CheckReport(List<Finding> findings, VirtualizationKind virtualization, NativeProbe.Outcome nativeGuests,
        boolean canBootLinux, String reason, HostFacts facts) {

    public CheckReport {
        findings = List.copyOf(findings);
        Objects.requireNonNull(virtualization);
        Objects.requireNonNull(nativeGuests);
        Objects.requireNonNull(reason);
        Objects.requireNonNull(facts);
    }

    /** The process exit code: 0 when a full Linux guest can boot here, 1 otherwise. */
    public int exitCode() {
        return canBootLinux ? 0 : 1;
    }

    /**
     * One line per check ("ok    /dev/kvm  present, readable and writable"), a "fix:" line under
     * each that has a fix, and the reason as the last line.
     */
    public String toText() {
        int width = findings.stream().mapToInt(f -> f.name().length()).max().orElse(0);
        StringBuilder sb = new StringBuilder();
        for (Finding f : findings) {
            sb.append(String.format(Locale.ROOT, "%-5s %-" + width + "s  %s%n", f.status().label(), f.name(), f.detail()));
            if (!f.fix().isEmpty()) {
                sb.append(" ".repeat(6)).append("fix: ").append(f.fix()).append(System.lineSeparator());
            }
        }
        sb.append(reason).append(System.lineSeparator());
        return sb.toString();
    }

    /**
     * The report as one JSON object (RFC 8259) for scripts: the verdict, the key facts, and every
     * finding. Hand-written because this module depends on the JDK only.
     */
    public String toJson() {
        StringBuilder sb = new StringBuilder(2048).append('{');
        field(sb, "canBootLinux").append(canBootLinux).append(',');
        field(sb, "reason").append(Json.string(reason)).append(',');
        field(sb, "virtualization").append(Json.string(virtualization.jsonName())).append(',');
        field(sb, "nativeGuests").append(Json.string(nativeGuests.name().toLowerCase(Locale.ROOT).replace('_', '-')))
                .append(',');
        field(sb, "kvm").append('{');
        field(sb, "path").append(Json.string(facts.kvm().path())).append(',');
        field(sb, "state").append(Json.string(facts.kvm().state().name().toLowerCase(Locale.ROOT).replace('_', '-')))
                .append(',');
        field(sb, "apiVersion").append(facts.apiVersion().isPresent() ? facts.apiVersion().getAsInt() : "null")
                .append(',');
        field(sb, "maxVcpus").append(facts.maxVcpus().isPresent() ? facts.maxVcpus().getAsInt() : "null").append(',');
        field(sb, "capabilities").append('{');
        boolean first = true;
        for (Map.Entry<Capability, Boolean> e : facts.capabilities().entrySet()) {
            if (!first) {
                sb.append(',');
            }
            first = false;
            field(sb, e.getKey().headerName()).append(e.getValue());
        }
        sb.append("}},");
        field(sb, "checks").append('[');
        for (int i = 0; i < findings.size(); i++) {
            Finding f = findings.get(i);
            if (i > 0) {
                sb.append(',');
            }
            sb.append('{');
            field(sb, "name").append(Json.string(f.name())).append(',');
            field(sb, "status").append(Json.string(f.status().name().toLowerCase(Locale.ROOT))).append(',');
            field(sb, "detail").append(Json.string(f.detail())).append(',');
            field(sb, "fix").append(f.fix().isEmpty() ? "null" : Json.string(f.fix()));
            sb.append('}');
        }
        return sb.append("]}").toString();
    }

    private static StringBuilder field(StringBuilder sb, String name) {
        return sb.append(Json.string(name)).append(':');
    }

    /** JSON string literals (RFC 8259 §7). */
    static final class Json {
        private Json() {
        }

        /**
         * {@code s} quoted: '"' and '\' escaped, control characters (below U+0020, which §7 says
         * MUST be escaped) as their short forms or \\u00XX; everything else, non-ASCII included,
         * as is (the output is UTF-8 text).
         */
        static String string(String s) {
            StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    case '\b' -> sb.append("\\b");
                    case '\f' -> sb.append("\\f");
                    default -> {
                        if (c < 0x20) {
                            sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                        } else {
                            sb.append(c);
                        }
                    }
                }
            }
            return sb.append('"').toString();
        }
    }
}
