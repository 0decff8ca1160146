package dev.ristretto.vmm.host;

/** The host could not provide the memory asked for; the message names the size and the fix. */
public final class HostMemoryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public HostMemoryException(String message, Throwable cause) {
        super(message, cause);
    }
}
