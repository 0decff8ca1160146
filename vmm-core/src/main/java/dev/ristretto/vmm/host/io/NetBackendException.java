package dev.ristretto.vmm.host.io;

/**
 * A network backend cannot be set up as given: a TAP device that is missing or not ours, passt not
 * installed or failing to start. The message is one sentence naming the device or program and the
 * fix, for the CLI to print without a stack trace.
 */
public final class NetBackendException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public NetBackendException(String message) {
        super(message);
    }

    public NetBackendException(String message, Throwable cause) {
        super(message, cause);
    }
}
