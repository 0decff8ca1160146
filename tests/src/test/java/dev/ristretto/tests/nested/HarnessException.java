package dev.ristretto.tests.nested;

/**
 * The test harness could not do what was asked for a reason outside the code under test: a script
 * is missing, a Debian package cannot be fetched, no way to reach hardware-semantics KVM. The
 * message is one sentence that names the thing and the fix.
 */
public class HarnessException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public HarnessException(String message) {
        super(message);
    }

    public HarnessException(String message, Throwable cause) {
        super(message, cause);
    }
}
