package dev.ristretto.firmware;

/**
 * A boot setup error caused by what the user gave us (a kernel file, an initrd, a command line, a
 * memory size). The message is one sentence naming the file or value and the fix; the CLI prints
 * it without a stack trace. Bugs in Ristretto itself are never reported through this type.
 */
public abstract class FirmwareException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    protected FirmwareException(String message) {
        super(message);
    }

    protected FirmwareException(String message, Throwable cause) {
        super(message, cause);
    }
}
