package dev.ristretto.vmm.host.io;

/**
 * A disk image cannot be used as given: missing, of the wrong kind, not accessible, badly sized or
 * locked by another process. The message is one sentence naming the image and the fix, for the
 * CLI to print without a stack trace.
 */
public final class DiskImageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public DiskImageException(String message) {
        super(message);
    }

    public DiskImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
