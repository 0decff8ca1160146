package dev.ristretto.tests.nested;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the repository's scripts from a test JVM, whose working directory is the tests module. */
public final class Repository {
    /** System property naming the repository root, for runs from elsewhere. */
    static final String ROOT_PROPERTY = "ristretto.repository";

    private static final String MARKER = "guest-images/nested/run-in-l1.sh";

    private Repository() {}

    public static Path root() {
        String configured = System.getProperty(ROOT_PROPERTY);
        if (configured != null) {
            Path root = Path.of(configured).toAbsolutePath();
            if (!Files.isRegularFile(root.resolve(MARKER))) {
                throw new HarnessException("-D" + ROOT_PROPERTY + "=" + configured + " is not a Ristretto checkout (no "
                        + MARKER + " there); point it at the repository root");
            }
            return root;
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve(MARKER))) {
                return dir;
            }
        }
        throw new HarnessException("cannot find " + MARKER + " above " + Path.of("").toAbsolutePath()
                + "; run the tests from the repository or set -D" + ROOT_PROPERTY + "=<repository root>");
    }

    /** A script of the repository, e.g. {@code guest-images/install-deps.sh}. */
    public static Path script(String relative) {
        Path script = root().resolve(relative);
        if (!Files.isRegularFile(script)) {
            throw new HarnessException("the repository has no " + relative + " (" + script + ")");
        }
        return script;
    }

    /** A test's log directory, tests/target/&lt;name&gt;, created if needed. */
    public static Path targetDir(String name) throws java.io.IOException {
        return Files.createDirectories(root().resolve("tests/target").resolve(name));
    }
}
