package dev.ristretto.vmm.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** eventfd(2) semantics through {@link EventFd}. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class EventFdTest {

    @Test
    void writesAddUpAndAReadTakesAndResetsTheCounter() {
        try (EventFd e = EventFd.createNonBlocking()) {
            assertTrue(e.isNonBlocking());
            assertEquals(0, e.read(), "nothing written yet");
            e.write(3);
            e.write(4);
            assertEquals(7, e.read());
            assertEquals(0, e.read(), "the read reset the counter");
            e.write(0xffff_ffff_ffff_fffeL); // the largest value the counter holds
            assertEquals(0xffff_ffff_ffff_fffeL, e.read());
        }
    }

    @Test
    void theOneForbiddenIncrementIsRefusedByName() {
        try (EventFd e = EventFd.createNonBlocking()) {
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> e.write(-1L));
            assertTrue(x.getMessage().contains("0xffffffffffffffff"), x.getMessage());
        }
    }

    @Test
    void aBlockingReadWaitsForAWrite() throws Exception {
        try (EventFd e = EventFd.create()) {
            assertFalse(e.isNonBlocking());
            CompletableFuture<Long> value = CompletableFuture.supplyAsync(e::read,
                    r -> Thread.ofPlatform().name("eventfd-reader").start(r));
            Thread.sleep(100);
            assertFalse(value.isDone(), "read returned before anything was written");
            e.write(5);
            assertEquals(5, value.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void closeIsIdempotentAndTheFdIsRefusedAfterwards() {
        EventFd e = EventFd.create();
        int fd = e.fd();
        assertTrue(fd >= 0);
        e.close();
        e.close();
        assertTrue(e.isClosed());
        assertThrows(IllegalStateException.class, e::fd);
        assertThrows(IllegalStateException.class, () -> e.write(1));
        assertThrows(IllegalStateException.class, e::read);
    }
}
