package dev.ristretto.vmm.kvm;

/**
 * A KVM ioctl failed. Carries the request's name and errno, so a caller can tell an expected
 * refusal (e.g. ENXIO from KVM_GET_LAPIC without an in-kernel irqchip) from a real failure.
 */
public final class KvmException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String ioctl;
    private final int errno;

    public KvmException(String ioctl, int errno, String message, Throwable cause) {
        super(message, cause);
        this.ioctl = ioctl;
        this.errno = errno;
    }

    /** The ioctl request's name, e.g. "KVM_SET_SREGS". */
    public String ioctl() {
        return ioctl;
    }

    /** errno, or 0 when the failure was not a system-call error (e.g. a short KVM_SET_MSRS). */
    public int errno() {
        return errno;
    }
}
