package dev.ristretto.machine;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.nio.file.Path;

/** Where COM1 goes: the terminal ({@code stdio}), a file ({@code file:PATH}) or nowhere ({@code none}). */
public record SerialConfig(Kind kind, Path path) {

    public enum Kind { STDIO, FILE, NONE }

    public static final SerialConfig STDIO = new SerialConfig(Kind.STDIO, null);
    public static final SerialConfig NONE = new SerialConfig(Kind.NONE, null);

    public SerialConfig {
        if ((kind == Kind.FILE) != (path != null)) {
            throw new IllegalArgumentException("a serial file needs a path, and only a file has one");
        }
    }

    public static SerialConfig file(Path path) {
        return new SerialConfig(Kind.FILE, path);
    }

    @JsonCreator
    public static SerialConfig parse(String text) {
        String s = text == null ? "" : text.trim();
        if (s.equals("stdio")) {
            return STDIO;
        }
        if (s.equals("none")) {
            return NONE;
        }
        if (s.startsWith("file:") && s.length() > "file:".length()) {
            return file(Path.of(s.substring("file:".length())));
        }
        throw new IllegalArgumentException("'" + text + "' is not a serial destination (use stdio, file:PATH or none)");
    }

    @JsonValue
    @Override
    public String toString() {
        return switch (kind) {
            case STDIO -> "stdio";
            case NONE -> "none";
            case FILE -> "file:" + path;
        };
    }
}
