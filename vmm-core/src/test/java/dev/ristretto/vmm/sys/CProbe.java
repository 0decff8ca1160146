package dev.ristretto.vmm.sys;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Asks the C compiler what the system headers say: compiles a program that prints each
 * expression (sizeof, offsetof, a macro) and returns the values. Tests compare our Java
 * constants and layouts with them, so a transcription error fails the build instead of
 * corrupting an ioctl argument. Skips the calling test (with the reason) when gcc is missing.
 */
public final class CProbe {
    private CProbe() {
    }

    /** Values of {@code expressions} (name → C expression) with {@code includes} in scope. */
    public static Map<String, Long> evaluate(List<String> includes, Map<String, String> expressions)
            throws IOException, InterruptedException {
        Assumptions.assumeTrue(gccAvailable(), "gcc is not on PATH: cannot compare with the C headers");
        StringBuilder c = new StringBuilder("#define _GNU_SOURCE\n#include <stdio.h>\n#include <stddef.h>\n");
        for (String inc : includes) {
            c.append("#include <").append(inc).append(">\n");
        }
        c.append("int main(void) {\n");
        for (Map.Entry<String, String> e : expressions.entrySet()) {
            c.append("  printf(\"%s %llu\\n\", \"").append(e.getKey()).append("\", (unsigned long long)(")
                    .append(e.getValue()).append("));\n");
        }
        c.append("  return 0;\n}\n");
        Path dir = Files.createDirectories(Path.of("target", "cprobe"));
        Path src = Files.createTempFile(dir, "probe", ".c");
        Path exe = Path.of(src.toString().replace(".c", ""));
        Files.writeString(src, c.toString());
        run(List.of("gcc", "-std=c11", "-Wall", "-Werror", "-o", exe.toString(), src.toString()), "gcc");
        String out = run(List.of(exe.toString()), "probe");
        Map<String, Long> values = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            if (!line.isBlank()) {
                String[] parts = line.split(" ");
                values.put(parts[0], Long.parseUnsignedLong(parts[1]));
            }
        }
        return values;
    }

    private static boolean gccAvailable() {
        try {
            Process p = new ProcessBuilder("gcc", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    private static String run(List<String> cmd, String what) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(what + " failed:\n" + out);
        }
        return out;
    }
}
