package dev.ristretto.vmm.host;

import dev.ristretto.vmm.sys.Errno;
import dev.ristretto.vmm.sys.ErrnoException;
import dev.ristretto.vmm.sys.Libc;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One named platform thread that runs a device's work off the vCPU threads: it waits with epoll
 * on a set of {@link EventFd}s (typically the device's ioeventfd queue doorbells, which KVM
 * signals without a vCPU exit) and, for each one that fires, drains its counter and runs the
 * callback registered for it. Several doorbell rings before the worker wakes coalesce into one
 * callback, which is what a virtqueue wants: the callback processes everything available.
 *
 * <p>A platform thread, not a virtual one: it blocks in epoll_wait(2), a native call that would
 * pin a carrier thread anyway. An exception from a callback is counted and logged (the first,
 * second, fourth ... failure, with its stack trace) and the worker carries on: one bad request
 * must not silence the device. {@link #close()} stops the thread promptly through an internal
 * stop eventfd in the same epoll set and waits for it.
 *
 * <p>The registered eventfds stay owned by the caller: the worker never closes them.
 */
public final class IoEventWorker implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(IoEventWorker.class.getName());
    /** Events taken per epoll_wait; more ready fds are simply returned by the next call. */
    private static final int MAX_EVENTS = 16;
    /** epoll data of the stop eventfd; registrations count up from 1. */
    private static final long STOP_KEY = 0;

    private record Registration(EventFd eventFd, Runnable callback) {
    }

    private final String name;
    private final int epollFd;
    private final EventFd stop;
    private final Map<Long, Registration> byKey = new ConcurrentHashMap<>();
    private final Map<EventFd, Long> keys = new ConcurrentHashMap<>();
    private final AtomicLong nextKey = new AtomicLong(STOP_KEY + 1);
    private final AtomicLong failures = new AtomicLong();
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile Thread thread;
    /**
     * Guards the epoll fd against close: register and unregister hold it while they use the fd,
     * close takes it before closing. The worker thread never takes it, so a callback may
     * register while close waits for the thread.
     */
    private final Object fdLock = new Object();

    /** Creates the epoll set; the thread, named {@code name} (e.g. "virtio-blk0"), starts with {@link #start()}. */
    public IoEventWorker(String name) {
        this.name = Objects.requireNonNull(name);
        this.epollFd = Libc.epollCreate1(Libc.EPOLL_CLOEXEC);
        EventFd s = null;
        try {
            s = EventFd.createNonBlocking();
            add(s, STOP_KEY);
        } catch (RuntimeException e) {
            if (s != null) {
                s.close();
            }
            Libc.close(epollFd);
            throw e;
        }
        this.stop = s;
    }

    public String name() {
        return name;
    }

    /**
     * Runs {@code callback} on the worker thread each time {@code eventFd} is signalled (after
     * its counter is drained). Allowed before and after {@link #start()}. The eventfd must be
     * non-blocking ({@link EventFd#createNonBlocking()}): the worker reads it after epoll reports
     * it ready and must never block there.
     */
    public void register(EventFd eventFd, Runnable callback) {
        Objects.requireNonNull(callback);
        if (!eventFd.isNonBlocking()) {
            throw new IllegalArgumentException(name + ": " + eventFd + " is blocking; create it with "
                    + "EventFd.createNonBlocking() so the worker can never block draining it");
        }
        synchronized (fdLock) {
            checkOpen();
            long key = nextKey.getAndIncrement();
            if (keys.putIfAbsent(eventFd, key) != null) {
                throw new IllegalArgumentException(name + ": " + eventFd + " is already registered");
            }
            byKey.put(key, new Registration(eventFd, callback));
            try {
                add(eventFd, key);
            } catch (RuntimeException e) {
                byKey.remove(key);
                keys.remove(eventFd);
                throw e;
            }
        }
    }

    /**
     * Stops watching {@code eventFd}: once this returns, no new signal of it runs the callback.
     * A dispatch the worker had already begun may still run it once, or be running (callers
     * that must know wait for their own in-flight work, as the virtio transport does on reset).
     * Unregister before closing the eventfd.
     */
    public void unregister(EventFd eventFd) {
        synchronized (fdLock) {
            checkOpen();
            Long key = keys.remove(eventFd);
            if (key == null) {
                throw new IllegalArgumentException(name + ": " + eventFd + " is not registered");
            }
            byKey.remove(key);
            Libc.epollCtl(epollFd, Libc.EPOLL_CTL_DEL, eventFd.fd(), MemorySegment.NULL);
        }
    }

    private void add(EventFd eventFd, long key) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ev = arena.allocate(Libc.EPOLL_EVENT_SIZE, 8);
            ev.set(ValueLayout.JAVA_INT, Libc.EPOLL_EVENT_EVENTS_OFFSET, Libc.EPOLLIN);
            ev.set(ValueLayout.JAVA_LONG_UNALIGNED, Libc.EPOLL_EVENT_DATA_OFFSET, key);
            Libc.epollCtl(epollFd, Libc.EPOLL_CTL_ADD, eventFd.fd(), ev);
        }
    }

    /** Starts the thread; once only. */
    public void start() {
        synchronized (fdLock) {
            checkOpen();
            if (!started.compareAndSet(false, true)) {
                throw new IllegalStateException(name + ": worker already started");
            }
            thread = Thread.ofPlatform().name(name).daemon().start(this::loop);
        }
    }

    /** How many callbacks have thrown since the worker was created. */
    public long callbackFailures() {
        return failures.get();
    }

    /** True while the thread runs. */
    public boolean isRunning() {
        Thread t = thread;
        return t != null && t.isAlive();
    }

    private void loop() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment events = arena.allocate(Libc.EPOLL_EVENT_SIZE * MAX_EVENTS, 8);
            while (true) {
                int n;
                try {
                    n = Libc.epollWait(epollFd, events, -1);
                } catch (ErrnoException e) {
                    if (e.errno() == Errno.EINTR) {
                        continue; // a signal meant for someone else; wait again
                    }
                    LOG.log(Level.ERROR, name + ": epoll_wait failed; the worker stops and its device gets no "
                            + "more notifications", e);
                    return;
                }
                for (int i = 0; i < n; i++) {
                    long key = events.get(ValueLayout.JAVA_LONG_UNALIGNED,
                            i * Libc.EPOLL_EVENT_SIZE + Libc.EPOLL_EVENT_DATA_OFFSET);
                    if (key == STOP_KEY) {
                        return;
                    }
                    Registration r = byKey.get(key);
                    // Null: unregistered after epoll_wait returned. A zero count: a spurious
                    // wake-up (someone else drained it); nothing to do either way.
                    if (r != null && r.eventFd().read() != 0) {
                        dispatch(r);
                    }
                }
            }
        }
    }

    private void dispatch(Registration r) {
        try {
            r.callback().run();
        } catch (Throwable t) {
            // A JVM in trouble (out of memory, internal error) is not a device bug: let it show.
            if (t instanceof VirtualMachineError && !(t instanceof StackOverflowError)) {
                throw t;
            }
            long n = failures.incrementAndGet();
            if (Long.bitCount(n) == 1) {
                LOG.log(Level.WARNING, name + ": the callback for " + r.eventFd() + " failed (failure #" + n
                        + ", later ones logged at powers of two); the worker carries on", t);
            }
        }
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new IllegalStateException(name + ": worker is closed");
        }
    }

    /**
     * Stops the thread (it finishes the callback it is running, if any), waits for it, and
     * closes the epoll set. Idempotent. Not from one of the worker's own callbacks: a thread
     * cannot wait for itself.
     */
    @Override
    public void close() {
        if (thread == Thread.currentThread()) {
            throw new IllegalStateException(name + ": close() called from the worker's own callback");
        }
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        Thread t;
        synchronized (fdLock) { // a concurrent start() has either set the thread or will see closed
            t = thread;
        }
        try {
            if (t != null) {
                stop.write(1);
                boolean interrupted = false;
                while (true) {
                    try {
                        t.join();
                        break;
                    } catch (InterruptedException e) {
                        interrupted = true; // keep waiting: closing the fds under a running loop is unsafe
                    }
                }
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        } finally {
            synchronized (fdLock) {
                stop.close();
                Libc.close(epollFd);
            }
        }
    }
}
