package dev.ristretto.vmm.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The signal that kicks a vCPU thread out of KVM_RUN.
 *
 * <p>KVM_RUN returns EINTR when a signal is pending for the thread (api.rst §4.8 KVM_RUN, and
 * §5 "immediate_exit"). The signal only needs <em>a</em> handler — with SIG_DFL a real-time
 * signal would kill the process, with SIG_IGN it would never be pending. The handler is the
 * address of libc's {@code getpid}: harmless, async-signal-safe, and no Java code runs in signal
 * context. No SA_RESTART, so the ioctl is not restarted behind our back.
 *
 * <p>SIGRTMIN+3: glibc's NPTL takes SIGRTMIN-2 and SIGRTMIN-1 (32, 33) and the JVM uses none of
 * the real-time signals; +3 leaves room for other libraries that pick SIGRTMIN..+2.
 */
public final class Signals {
    private static volatile int kickSignal;

    private Signals() {
    }

    /** The kick signal, installing its handler on first use (once per process). */
    public static int kickSignal() {
        int sig = kickSignal;
        if (sig == 0) {
            synchronized (Signals.class) {
                sig = kickSignal;
                if (sig == 0) {
                    sig = Libc.sigrtmin() + 3;
                    install(sig);
                    kickSignal = sig;
                }
            }
        }
        return sig;
    }

    private static void install(int sig) {
        try (Arena arena = Arena.ofConfined()) {
            // allocate() zero-fills: an empty sa_mask and sa_flags == 0 (no SA_RESTART, no SA_SIGINFO).
            MemorySegment act = arena.allocate(Libc.SIGACTION_SIZE, 8);
            act.set(ValueLayout.ADDRESS, Libc.SIGACTION_HANDLER_OFFSET, Libc.functionAddress("getpid"));
            Libc.sigaction(sig, act, MemorySegment.NULL);
        }
    }

    /** Sends the kick signal to a live thread. */
    public static void kick(long pthread) {
        Libc.pthreadKill(pthread, kickSignal());
    }
}
