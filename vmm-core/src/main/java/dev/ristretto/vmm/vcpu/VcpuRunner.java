package dev.ristretto.vmm.vcpu;

import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.kvm.VcpuExit;
import dev.ristretto.vmm.kvm.VcpuFd;
import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.sys.Libc;
import dev.ristretto.vmm.sys.Signals;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs each vCPU on its own named platform thread ("vcpu-0", ...) — never a virtual thread:
 * KVM_RUN blocks in the kernel for as long as the guest runs and would pin a carrier anyway.
 * Each loop is run → {@link ExitHandler}; when the handler says stop, the {@link Listener} gets
 * the terminal event with a {@link Diagnostics} dump, and that vCPU's thread ends. What a stop
 * means for the other vCPUs (power off, reset) is the listener's decision.
 *
 * <p>{@link #stop()} kicks every vCPU out of KVM_RUN the race-free way (api.rst §5,
 * immediate_exit): set {@code kvm_run.immediate_exit}, then signal the thread (SIGRTMIN+3,
 * handler installed once by {@link Signals}). A vCPU about to enter KVM_RUN sees the flag; one
 * already inside gets EINTR from the signal.
 *
 * <p>The runner owns the vCPU fds: {@link #close()} stops, waits for every thread and closes them.
 */
public final class VcpuRunner implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(VcpuRunner.class.getName());

    /**
     * A vCPU stopped on its own: {@code exit} is the exit that stopped it (null when {@code error}
     * happened before any exit), {@code stop} the decision, {@code diagnostics} the register dump
     * (empty when the vCPU could not be read), {@code error} our own failure or null.
     */
    public record Termination(int vcpu, VcpuExit exit, ExitOutcome.Stop stop, String diagnostics, Throwable error) {
        public Termination {
            Objects.requireNonNull(stop);
            Objects.requireNonNull(diagnostics);
        }
    }

    /** Receives terminal events, on the vCPU's own thread. May call {@link #stop()}. */
    @FunctionalInterface
    public interface Listener {
        void onTermination(Termination termination);
    }

    private final List<Worker> workers;
    private final Bus io;
    private final Bus mmio;
    private final GuestMemory memory;
    private final Listener listener;
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Orders a stop()'s kicks before close() closes the vCPUs they write to. */
    private final Object closeLock = new Object();
    private volatile boolean stopping;

    public VcpuRunner(List<VcpuFd> vcpus, Bus io, Bus mmio, GuestMemory memory, Listener listener) {
        if (vcpus.isEmpty()) {
            throw new IllegalArgumentException("a VM needs at least one vCPU");
        }
        this.io = Objects.requireNonNull(io);
        this.mmio = Objects.requireNonNull(mmio);
        this.memory = Objects.requireNonNull(memory);
        this.listener = Objects.requireNonNull(listener);
        List<Worker> ws = new ArrayList<>(vcpus.size());
        for (int i = 0; i < vcpus.size(); i++) {
            ws.add(new Worker(i, Objects.requireNonNull(vcpus.get(i))));
        }
        this.workers = List.copyOf(ws);
        // Install the kick signal's handler now, on the caller's thread, not in the middle of a stop.
        Signals.kickSignal();
    }

    /** Starts one thread per vCPU; once only. */
    public void start() {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("vCPU runner already started");
        }
        for (Worker w : workers) {
            w.thread = Thread.ofPlatform().name("vcpu-" + w.index).unstarted(() -> loop(w));
            w.thread.start();
        }
    }

    private void loop(Worker w) {
        w.enter(Libc.pthreadSelf());
        VcpuExit exit = null;
        try {
            while (!stopping) {
                exit = w.vcpu.run();
                ExitOutcome outcome = ExitHandler.handle(exit, io, mmio);
                if (outcome instanceof ExitOutcome.Stop stop) {
                    terminate(w, exit, stop, null);
                    return;
                }
            }
        } catch (RuntimeException | Error e) {
            terminate(w, exit, new ExitOutcome.Stop(ExitOutcome.Reason.VMM_ERROR, "vCPU " + w.index + " run loop failed: "
                    + e.getMessage()), e);
        } finally {
            w.leave();
        }
    }

    private void terminate(Worker w, VcpuExit exit, ExitOutcome.Stop stop, Throwable error) {
        String diagnostics;
        try {
            diagnostics = exit == null ? "" : Diagnostics.describe(w.vcpu, exit, memory);
        } catch (RuntimeException e) {
            diagnostics = "diagnostics unavailable: " + e;
        }
        try {
            listener.onTermination(new Termination(w.index, exit, stop, diagnostics, error));
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "vCPU listener failed on " + stop, e);
        }
    }

    /**
     * Kicks every vCPU out of the guest and ends its loop. Idempotent and safe from any thread.
     * From a thread that is not a vCPU thread it also waits until every vCPU thread has ended; on
     * a vCPU thread (e.g. inside the listener) it only kicks, because two vCPUs waiting for each
     * other there would deadlock.
     */
    public void stop() {
        stopping = true;
        Thread self = Thread.currentThread();
        // Under closeLock: a stop() from another thread (a signal handler, the console) may still
        // be kicking when the main thread, woken by the same event, closes the runner, and the
        // kick writes to each vCPU's kvm_run mapping, which close() unmaps. Once closed, every
        // vCPU thread has been joined and there is nothing left to kick.
        synchronized (closeLock) {
            if (!closed.get()) {
                for (Worker w : workers) {
                    w.vcpu.setImmediateExit(true);
                    if (w.thread != self) {
                        w.kick();
                    }
                }
            }
        }
        if (!isVcpuThread(self)) {
            for (Worker w : workers) {
                Thread t = w.thread;
                if (t != null) {
                    joinUninterruptibly(t);
                }
            }
        }
    }

    private boolean isVcpuThread(Thread t) {
        for (Worker w : workers) {
            if (w.thread == t) {
                return true;
            }
        }
        return false;
    }

    private static void joinUninterruptibly(Thread t) {
        boolean interrupted = false;
        while (true) {
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits until every vCPU thread has ended (or was never started); false on timeout. */
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Worker w : workers) {
            Thread t = w.thread;
            if (t == null) {
                continue;
            }
            long left = deadline - System.nanoTime();
            if (left > 0) {
                t.join(Duration.ofNanos(left));
            }
            if (t.isAlive()) {
                return false;
            }
        }
        return true;
    }

    /** True while any vCPU thread is alive. */
    public boolean isRunning() {
        for (Worker w : workers) {
            Thread t = w.thread;
            if (t != null && t.isAlive()) {
                return true;
            }
        }
        return false;
    }

    /** Stops, waits for every vCPU thread, then closes the vCPU fds. Not from a vCPU thread. */
    @Override
    public void close() {
        if (isVcpuThread(Thread.currentThread())) {
            throw new IllegalStateException("VcpuRunner.close() called on " + Thread.currentThread().getName()
                    + "; call stop() there and close from another thread");
        }
        stop();
        synchronized (closeLock) {
            if (closed.compareAndSet(false, true)) {
                for (Worker w : workers) {
                    w.vcpu.close();
                }
            }
        }
    }

    /** One vCPU and its thread. {@code lock} keeps pthread_kill away from a thread that has ended. */
    private static final class Worker {
        final int index;
        final VcpuFd vcpu;
        volatile Thread thread;
        private final Object lock = new Object();
        private long pthread;
        private boolean inLoop;

        Worker(int index, VcpuFd vcpu) {
            this.index = index;
            this.vcpu = vcpu;
        }

        void enter(long self) {
            synchronized (lock) {
                pthread = self;
                inLoop = true;
            }
        }

        void leave() {
            synchronized (lock) {
                inLoop = false;
            }
        }

        /**
         * Signals the thread if it is still inside its loop. The pthread_t stays valid while we
         * hold the lock, because the thread cannot leave its loop (and then exit) meanwhile.
         */
        void kick() {
            synchronized (lock) {
                if (inLoop) {
                    Signals.kick(pthread);
                }
            }
        }
    }
}
