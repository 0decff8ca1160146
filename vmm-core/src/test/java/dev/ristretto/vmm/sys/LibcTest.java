package dev.ristretto.vmm.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The libc bindings against the real libc: results, errno capture, and the kick signal. */
class LibcTest {

    @Test
    void openFailureCarriesErrnoAndCallName() {
        ErrnoException e = assertThrows(ErrnoException.class,
                () -> Libc.open("/nonexistent/ristretto-test", Libc.O_RDWR));
        assertEquals(Errno.ENOENT, e.errno());
        assertEquals("open(/nonexistent/ristretto-test)", e.call());
        assertTrue(e.getMessage().contains("No such file or directory"), e.getMessage());
    }

    @Test
    void eventfdCountsWritesAndIsNotATerminal() {
        int fd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        try (Arena arena = Arena.ofConfined()) {
            assertFalse(Libc.isatty(fd));
            MemorySegment buf = arena.allocate(8);
            buf.set(ValueLayout.JAVA_LONG, 0, 3);
            assertEquals(8, Libc.write(fd, buf));
            buf.set(ValueLayout.JAVA_LONG, 0, 4);
            assertEquals(8, Libc.write(fd, buf));
            assertEquals(8, Libc.read(fd, buf));
            assertEquals(7, buf.get(ValueLayout.JAVA_LONG, 0));
            // Counter now zero: a non-blocking read fails with EAGAIN, captured at the call.
            ErrnoException e = assertThrows(ErrnoException.class, () -> Libc.read(fd, buf));
            assertEquals(Errno.EAGAIN, e.errno());
        } finally {
            Libc.close(fd);
        }
        assertEquals(9 /* EBADF */, assertThrows(ErrnoException.class, () -> Libc.close(fd)).errno());
    }

    @Test
    @SuppressWarnings("restricted")
    void anonymousMappingIsUsableAndUnmaps() {
        long size = 1 << 20;
        MemorySegment addr = Libc.mmap(size, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0, "test");
        MemorySegment m = addr.reinterpret(size);
        assertEquals(0, m.get(ValueLayout.JAVA_LONG, size - 8));
        m.set(ValueLayout.JAVA_LONG, size - 8, 0x1234);
        assertEquals(0x1234, m.get(ValueLayout.JAVA_LONG, size - 8));
        Libc.munmap(addr, size);
    }

    @Test
    void ioctlOnANonDeviceFailsWithEnotty() {
        int fd = Libc.eventfd(0, Libc.EFD_CLOEXEC);
        try {
            ErrnoException e = assertThrows(ErrnoException.class, () -> Libc.ioctl(fd, 0xAE00, 0, "KVM_GET_API_VERSION"));
            assertEquals(Errno.ENOTTY, e.errno());
            assertEquals("ioctl(KVM_GET_API_VERSION)", e.call());
            assertEquals(-Errno.ENOTTY, Libc.ioctlRaw(fd, 0xAE00, 0));
        } finally {
            Libc.close(fd);
        }
    }

    /**
     * The kick: a thread blocked in read(2) on an empty eventfd returns EINTR when signalled,
     * and the JVM carries on (the handler is libc's getpid, no Java runs in signal context).
     */
    @Test
    void kickSignalInterruptsABlockingSystemCall() throws Exception {
        int fd = Libc.eventfd(0, Libc.EFD_CLOEXEC);
        AtomicLong pthread = new AtomicLong();
        AtomicReference<Object> result = new AtomicReference<>();
        CountDownLatch ready = new CountDownLatch(1);
        Thread t = Thread.ofPlatform().name("blocked-reader").start(() -> {
            pthread.set(Libc.pthreadSelf());
            ready.countDown();
            try (Arena arena = Arena.ofConfined()) {
                result.set(Libc.read(fd, arena.allocate(8)));
            } catch (ErrnoException e) {
                result.set(e);
            }
        });
        try {
            ready.await();
            int sig = Signals.kickSignal();
            assertEquals(Libc.sigrtmin() + 3, sig);
            // The reader may not be inside read(2) yet: keep kicking until it reports.
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (t.isAlive() && System.nanoTime() < deadline) {
                Signals.kick(pthread.get());
                t.join(20);
            }
            assertFalse(t.isAlive(), "reader still blocked after 10 s of signals");
            ErrnoException e = assertInstanceOf(ErrnoException.class, result.get());
            assertEquals(Errno.EINTR, e.errno());
        } finally {
            Libc.close(fd);
        }
    }
}
