package dev.ristretto.vmm.kvm;

/**
 * The host cannot run KVM guests: /dev/kvm is missing or inaccessible, speaks another API
 * version, or lacks capabilities we rely on. The message says what is wrong and how to fix it, so
 * the CLI prints it as it is, without a stack trace.
 */
public final class KvmUnavailableException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public KvmUnavailableException(String message) {
        super(message);
    }

    public KvmUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
