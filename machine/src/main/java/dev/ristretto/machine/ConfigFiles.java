package dev.ristretto.machine;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.stream.Collectors;

/** Reads and writes {@link MachineConfig} as JSON, with errors a user can act on. */
public final class ConfigFiles {
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private ConfigFiles() {
    }

    /** The configuration as pretty-printed JSON (what --print-config shows). */
    public static String toJson(MachineConfig config) {
        try {
            return MAPPER.writeValueAsString(config);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise configuration", e);
        }
    }

    /** Parses JSON text; {@code origin} names the source in error messages. */
    public static MachineConfig fromJson(String json, String origin) {
        if (json.isBlank() || json.strip().equals("null")) {
            throw SetupException.usage("config " + origin + " is empty: write a JSON object such as"
                    + " {\"kernel\": \"/path/to/bzImage\"}");
        }
        try {
            return MAPPER.readValue(json, MachineConfig.class);
        } catch (UnrecognizedPropertyException e) {
            String known = e.getKnownPropertyIds().stream().map(Object::toString).sorted()
                    .collect(Collectors.joining(", "));
            throw SetupException.usage("config " + origin + ": unknown option \"" + e.getPropertyName() + "\""
                    + where(e.getLocation()) + " (known options: " + known + ")");
        } catch (JsonMappingException e) {
            Throwable cause = e.getCause();
            String what = cause instanceof IllegalArgumentException && cause.getMessage() != null
                    ? cause.getMessage() : e.getOriginalMessage();
            String field = e.getPath().isEmpty() ? "" : " in \"" + e.getPath().get(e.getPath().size() - 1).getFieldName() + "\"";
            throw SetupException.usage("config " + origin + ": bad value" + field + where(e.getLocation()) + ": "
                    + firstLine(what));
        } catch (JsonProcessingException e) {
            throw SetupException.usage("config " + origin + " is not valid JSON" + where(e.getLocation()) + ": "
                    + firstLine(e.getOriginalMessage()));
        }
    }

    /**
     * Reads a config file. Relative paths inside it are taken relative to the file's own
     * directory, so a config and its kernel can travel together.
     */
    public static MachineConfig read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw SetupException.usage("config " + file + " does not exist (check the path given to --config)");
        } catch (IOException e) {
            throw SetupException.usage("config " + file + " cannot be read: " + e.getMessage());
        }
        MachineConfig c = fromJson(text, file.toString());
        Path dir = file.toAbsolutePath().getParent();
        return new MachineConfig(resolve(dir, c.kernel()), resolve(dir, c.initrd()), c.append(), c.memory(),
                c.cpus(), resolveSerial(dir, c.serial()), c.onReboot(), c.acpi(), resolve(dir, c.dumpAcpi()),
                c.bootProtocol(), c.disks() == null ? null : c.disks().stream().map(d -> d.withPath(resolve(dir, d.path()))).toList(),
                c.nets(), c.console(), c.rng(), c.cpuTemplate());
    }

    private static Path resolve(Path dir, Path p) {
        return p == null || p.isAbsolute() ? p : dir.resolve(p).normalize();
    }

    private static SerialConfig resolveSerial(Path dir, SerialConfig s) {
        return s != null && s.kind() == SerialConfig.Kind.FILE ? SerialConfig.file(resolve(dir, s.path())) : s;
    }

    private static String where(JsonLocation loc) {
        return loc == null || loc.getLineNr() < 0 ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "malformed";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
