package dev.ristretto.vmm.sys;

/** The errno values (asm-generic/errno-base.h, identical on every Linux architecture) we react to. */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int ENXIO = 6;
    public static final int E2BIG = 7;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;
    public static final int ENOTTY = 25;
    public static final int EROFS = 30;
    /** From asm-generic/errno.h, not errno-base.h; 95 on x86-64 (checked by LibcHeaderTest). */
    public static final int EOPNOTSUPP = 95;

    private Errno() {
    }
}
