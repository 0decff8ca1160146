package dev.ristretto.firmware;

/**
 * The boot cannot be laid out as asked: the memory size is invalid, the kernel or initrd does not
 * fit in guest RAM, the command line is too long or contains characters the kernel cannot take.
 */
public final class BootSetupException extends FirmwareException {
    private static final long serialVersionUID = 1L;

    public BootSetupException(String message) {
        super(message);
    }

    public BootSetupException(String message, Throwable cause) {
        super(message, cause);
    }
}
