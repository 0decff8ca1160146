package dev.ristretto.vmm.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Dispatch, draining, failure isolation and shutdown of {@link IoEventWorker}, with plain eventfds. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class IoEventWorkerTest {

    private static boolean threadNamed(String name) {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals(name) && t.isAlive());
    }

    @Test
    void eachFdRunsItsOwnCallbackOnTheNamedThreadAfterDraining() throws Exception {
        try (EventFd a = EventFd.createNonBlocking(); EventFd b = EventFd.createNonBlocking();
             IoEventWorker w = new IoEventWorker("test-worker-dispatch")) {
            List<String> calls = new CopyOnWriteArrayList<>();
            Semaphore done = new Semaphore(0);
            w.register(a, () -> {
                calls.add("a on " + Thread.currentThread().getName() + " counter " + a.read());
                done.release();
            });
            w.start();
            // Registering after start is allowed.
            w.register(b, () -> {
                calls.add("b");
                done.release();
            });
            a.write(2);
            assertTrue(done.tryAcquire(10, TimeUnit.SECONDS));
            b.write(1);
            assertTrue(done.tryAcquire(10, TimeUnit.SECONDS));
            // The worker drained a's counter before the callback, which therefore read 0.
            assertEquals(List.of("a on test-worker-dispatch counter 0", "b"), calls);
            assertTrue(w.isRunning());
        }
    }

    @Test
    void writesBeforeTheWorkerWakesCoalesceIntoOneCallback() throws Exception {
        try (EventFd a = EventFd.createNonBlocking(); EventFd gate = EventFd.createNonBlocking();
             IoEventWorker w = new IoEventWorker("test-worker-coalesce")) {
            AtomicInteger calls = new AtomicInteger();
            CountDownLatch inGate = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Semaphore done = new Semaphore(0);
            w.register(gate, () -> {
                inGate.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            w.register(a, () -> {
                calls.incrementAndGet();
                done.release();
            });
            w.start();
            gate.write(1);
            assertTrue(inGate.await(10, TimeUnit.SECONDS)); // the worker is busy in the gate callback
            a.write(1);
            a.write(1);
            a.write(1);
            release.countDown();
            assertTrue(done.tryAcquire(10, TimeUnit.SECONDS));
            assertFalse(done.tryAcquire(200, TimeUnit.MILLISECONDS), "three writes ran the callback more than once");
            assertEquals(1, calls.get());
        }
    }

    @Test
    void aThrowingCallbackIsCountedAndTheWorkerCarriesOn() throws Exception {
        try (EventFd bad = EventFd.createNonBlocking(); EventFd good = EventFd.createNonBlocking();
             IoEventWorker w = new IoEventWorker("test-worker-failure")) {
            Semaphore badRan = new Semaphore(0);
            Semaphore goodRan = new Semaphore(0);
            w.register(bad, () -> {
                badRan.release();
                throw new IllegalStateException("device bug (expected by the test)");
            });
            w.register(good, goodRan::release);
            w.start();
            for (int i = 0; i < 3; i++) {
                bad.write(1);
                assertTrue(badRan.tryAcquire(10, TimeUnit.SECONDS));
            }
            good.write(1);
            assertTrue(goodRan.tryAcquire(10, TimeUnit.SECONDS), "the worker died with the failing callback");
            assertEquals(3, w.callbackFailures());
        }
    }

    @Test
    void unregisteredFdsNoLongerRunTheirCallback() throws Exception {
        try (EventFd a = EventFd.createNonBlocking(); EventFd probe = EventFd.createNonBlocking();
             IoEventWorker w = new IoEventWorker("test-worker-unregister")) {
            AtomicInteger aCalls = new AtomicInteger();
            Semaphore probed = new Semaphore(0);
            w.register(a, aCalls::incrementAndGet);
            w.register(probe, probed::release);
            w.start();
            w.unregister(a);
            a.write(1);
            probe.write(1); // a is out of the epoll set: only the probe can run
            assertTrue(probed.tryAcquire(10, TimeUnit.SECONDS));
            Thread.sleep(50);
            assertEquals(0, aCalls.get());
            assertEquals(1, a.read(), "the worker must not drain an fd it no longer watches");
            assertThrows(IllegalArgumentException.class, () -> w.unregister(a));
        }
    }

    @Test
    void closeStopsTheThreadPromptlyAndLeavesNoneBehind() throws Exception {
        IoEventWorker w = new IoEventWorker("test-worker-close");
        try (EventFd a = EventFd.createNonBlocking()) {
            w.register(a, () -> { });
            w.start();
            assertTrue(threadNamed("test-worker-close"));
            long t0 = System.nanoTime();
            w.close();
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(millis < 2000, "close took " + millis + " ms");
            assertFalse(w.isRunning());
            assertFalse(threadNamed("test-worker-close"));
            w.close(); // idempotent
            assertThrows(IllegalStateException.class, () -> w.register(EventFd.createNonBlocking(), () -> { }));
            assertEquals(0, a.read(), "closing the worker must not touch the caller's eventfds");
            a.write(1);
            assertEquals(1, a.read());
        }
    }

    @Test
    void closeWithoutStartAndMisuseAreRefusedClearly() {
        try (EventFd blocking = EventFd.create(); EventFd ok = EventFd.createNonBlocking()) {
            IoEventWorker w = new IoEventWorker("test-worker-misuse");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> w.register(blocking, () -> { }));
            assertTrue(e.getMessage().contains("createNonBlocking"), e.getMessage());
            w.register(ok, () -> { });
            assertThrows(IllegalArgumentException.class, () -> w.register(ok, () -> { }));
            w.close();
            assertFalse(threadNamed("test-worker-misuse"));
            assertThrows(IllegalStateException.class, w::start);
        }
    }

    @Test
    void closeFromTheWorkersOwnCallbackIsRefused() throws Exception {
        try (EventFd a = EventFd.createNonBlocking(); IoEventWorker w = new IoEventWorker("test-worker-self-close")) {
            Semaphore ran = new Semaphore(0);
            w.register(a, () -> {
                try {
                    w.close();
                } finally {
                    ran.release();
                }
            });
            w.start();
            a.write(1);
            assertTrue(ran.tryAcquire(10, TimeUnit.SECONDS));
            // Counted as a failing callback; the worker is still running and closes normally.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (w.callbackFailures() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(1, w.callbackFailures());
            assertTrue(w.isRunning());
        }
    }
}
