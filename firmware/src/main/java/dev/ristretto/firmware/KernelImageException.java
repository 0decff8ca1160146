package dev.ristretto.firmware;

/** The kernel file is missing, unreadable, not a bzImage, or a bzImage Ristretto cannot boot. */
public final class KernelImageException extends FirmwareException {
    private static final long serialVersionUID = 1L;

    public KernelImageException(String message) {
        super(message);
    }

    public KernelImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
