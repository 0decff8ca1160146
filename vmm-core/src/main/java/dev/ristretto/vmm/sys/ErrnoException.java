package dev.ristretto.vmm.sys;

/**
 * A libc call failed: carries the call's name (for ioctls, the request's name) and errno, so a
 * caller can react to one errno (EINTR, E2BIG, ENOENT ...) and a human sees what failed and why.
 */
public final class ErrnoException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    public ErrnoException(String call, int errno) {
        super(call + " failed: " + Libc.strerror(errno) + " (errno " + errno + ")");
        this.call = call;
        this.errno = errno;
    }

    /** The failed call, e.g. "open(/dev/kvm)" or "ioctl(KVM_RUN)". */
    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }
}
