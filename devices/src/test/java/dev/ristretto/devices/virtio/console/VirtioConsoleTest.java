package dev.ristretto.devices.virtio.console;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.devices.virtio.QueueDriver;
import dev.ristretto.devices.virtio.Virtio;
import dev.ristretto.devices.virtio.VirtioInterrupt;
import dev.ristretto.devices.virtio.Virtqueue;
import dev.ristretto.vmm.memory.GuestAddress;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** virtio-console against two real split virtqueues in guest RAM. */
class VirtioConsoleTest {

    private static final long RX_BUF = QueueDriver.RAM_BASE + 0x2_0000;
    private static final long TX_BUF = QueueDriver.RAM_BASE + 0x4_0000;
    private static final long FEATURES = Virtio.bit(Virtio.F_VERSION_1) | Virtio.bit(Virtio.F_EVENT_IDX)
            | Virtio.bit(VirtioConsole.F_SIZE);

    private Arena arena;
    private QueueDriver rxDriver;
    private QueueDriver txDriver;
    private Virtqueue rxQueue;
    private Virtqueue txQueue;
    private final ByteArrayOutputStream output = new ByteArrayOutputStream();
    private VirtioConsole console;
    private final List<String> violations = new ArrayList<>();
    private int rxInterrupts;
    private int txInterrupts;
    private int configChanges;
    private int rxPosted;

    @BeforeEach
    void setUp() {
        arena = Arena.ofConfined();
        rxDriver = new QueueDriver(arena, 16);
        txDriver = new QueueDriver(rxDriver, 16, QueueDriver.RAM_BASE + 0x4000);
        console = new VirtioConsole(output::write, 100);
    }

    private void activate() {
        Virtqueue.ViolationListener l = (q, reason) -> violations.add(reason);
        rxQueue = rxDriver.queue(0, VirtioConsole.QUEUE_SIZE, FEATURES, l);
        txQueue = txDriver.queue(1, VirtioConsole.QUEUE_SIZE, FEATURES, l);
        console.activate(rxDriver.memory, List.of(rxQueue, txQueue), FEATURES, new VirtioInterrupt() {
            @Override
            public void usedBuffers(int queue) {
                if (queue == 0) {
                    rxInterrupts++;
                } else {
                    txInterrupts++;
                }
            }

            @Override
            public void configChanged() {
                configChanges++;
            }
        });
    }

    @AfterEach
    void tearDown() {
        assertTrue(rxDriver.guardsIntact());
        arena.close();
    }

    private int postRx(int len) {
        int i = rxPosted++ % 16;
        rxDriver.descriptor(i, RX_BUF + 0x100L * i, len, Virtqueue.DESC_F_WRITE, 0);
        rxDriver.offer(i);
        return i;
    }

    private String rxText(int descriptor, int len) {
        return new String(rxDriver.memory.read(GuestAddress.of(RX_BUF + 0x100L * descriptor), len),
                StandardCharsets.US_ASCII);
    }

    @Test
    void identityAndConfig() {
        activate();
        assertEquals(Virtio.TYPE_CONSOLE, console.deviceType());
        assertEquals(Virtio.bit(VirtioConsole.F_SIZE), console.deviceFeatures(), "no MULTIPORT, no EMERG_WRITE");
        assertArrayEquals(new int[] {256, 256}, console.queueMaxSizes());
        byte[] cfg = new byte[4];
        console.readConfig(0, cfg);
        assertArrayEquals(new byte[] {80, 0, 24, 0}, cfg);
        console.setSize(132, 50);
        console.setSize(132, 50);
        console.readConfig(0, cfg);
        assertArrayEquals(new byte[] {(byte) 132, 0, 50, 0}, cfg);
        assertEquals(1, configChanges, "one notification per change");
        assertThrows(IllegalArgumentException.class, () -> console.setSize(0, 10));
        assertThrows(IllegalArgumentException.class, () -> console.setSize(10, 0x10000));
    }

    @Test
    void transmitGoesToTheSinkInOrder() {
        activate();
        byte[] a = "hello, ".getBytes(StandardCharsets.US_ASCII);
        byte[] b = "hvc0\n".getBytes(StandardCharsets.US_ASCII);
        txDriver.memory.write(GuestAddress.of(TX_BUF), a);
        txDriver.memory.write(GuestAddress.of(TX_BUF + 0x100), b);
        txDriver.descriptor(0, TX_BUF, a.length, Virtqueue.DESC_F_NEXT, 1);
        txDriver.descriptor(1, TX_BUF + 0x100, b.length, 0, 0);
        txDriver.offer(0);
        txDriver.descriptor(2, TX_BUF + 0x100, b.length, 0, 0);
        txDriver.offer(2);
        console.processQueue(VirtioConsole.TX_QUEUE);
        assertEquals("hello, hvc0\nhvc0\n", output.toString(StandardCharsets.US_ASCII));
        assertEquals(2, txDriver.usedIdx());
        assertArrayEquals(new int[] {0, 0}, txDriver.usedElement(0));
        assertEquals(1, txInterrupts);
        assertEquals(17, console.bytesTransmitted());
    }

    @Test
    void aLongTransmitIsPassedOnInPieces() {
        activate();
        byte[] big = new byte[10_000];
        new Random(3).nextBytes(big);
        txDriver.memory.write(GuestAddress.of(TX_BUF), big);
        txDriver.descriptor(0, TX_BUF, big.length, 0, 0);
        txDriver.offer(0);
        console.processQueue(VirtioConsole.TX_QUEUE);
        assertArrayEquals(big, output.toByteArray());
    }

    @Test
    void inputFillsReceiveBuffers() {
        activate();
        int d = postRx(64);
        assertEquals(5, console.enqueue("ls -l".getBytes(StandardCharsets.US_ASCII), 0, 5));
        assertEquals(1, rxDriver.usedIdx());
        assertArrayEquals(new int[] {d, 5}, rxDriver.usedElement(0));
        assertEquals("ls -l", rxText(d, 5));
        assertEquals(1, rxInterrupts);
        assertEquals(0, console.hostQueued());
    }

    @Test
    void inputWaitsForBuffersAndSplitsAcrossThem() {
        activate();
        byte[] text = "0123456789abcdefghij".getBytes(StandardCharsets.US_ASCII);
        assertEquals(20, console.enqueue(text, 0, 20));
        assertEquals(20, console.hostQueued());
        assertEquals(0, rxInterrupts);
        int d0 = postRx(8);
        int d1 = postRx(8);
        int d2 = postRx(8);
        console.processQueue(VirtioConsole.RX_QUEUE);
        assertArrayEquals(new int[] {d0, 8}, rxDriver.usedElement(0));
        assertArrayEquals(new int[] {d1, 8}, rxDriver.usedElement(1));
        assertArrayEquals(new int[] {d2, 4}, rxDriver.usedElement(2));
        assertEquals("01234567" + "89abcdef" + "ghij", rxText(d0, 8) + rxText(d1, 8) + rxText(d2, 4));
        assertEquals(1, rxInterrupts);
    }

    @Test
    void theHostQueueIsBoundedAndKeepsInputTypedBeforeTheDriverIsReady() {
        byte[] text = new byte[150];
        for (int i = 0; i < text.length; i++) {
            text[i] = (byte) ('a' + i % 26);
        }
        assertEquals(100, console.enqueue(text, 0, 150), "capacity 100");
        assertEquals(0, console.enqueue(text, 100, 50), "full");
        activate();
        int d = postRx(200);
        console.processQueue(VirtioConsole.RX_QUEUE);
        assertArrayEquals(new int[] {d, 100}, rxDriver.usedElement(0));
        assertEquals(new String(text, 0, 100, StandardCharsets.US_ASCII), rxText(d, 100));
        assertEquals(50, console.enqueue(text, 100, 50), "room again");
        assertThrows(IndexOutOfBoundsException.class, () -> console.enqueue(text, 140, 20));
    }

    @Test
    void aReadableReceiveBufferBreaksTheQueue() {
        activate();
        rxDriver.descriptor(0, RX_BUF, 16, 0, 0);
        rxDriver.offer(0);
        console.enqueue(new byte[] {'x'}, 0, 1);
        assertTrue(rxQueue.isBroken());
        assertEquals(1, violations.size());
        assertEquals(1, console.hostQueued(), "the input is kept");
    }

    @Test
    void aWritableTransmitBufferBreaksTheQueue() {
        activate();
        txDriver.descriptor(0, TX_BUF, 16, Virtqueue.DESC_F_WRITE, 0);
        txDriver.offer(0);
        console.processQueue(VirtioConsole.TX_QUEUE);
        assertTrue(txQueue.isBroken());
        assertEquals(0, output.size());
    }

    @Test
    void afterResetNothingMovesUntilReactivated() {
        activate();
        console.reset();
        console.enqueue(new byte[] {'y'}, 0, 1);
        console.processQueue(VirtioConsole.RX_QUEUE);
        console.processQueue(VirtioConsole.TX_QUEUE);
        assertEquals(1, console.hostQueued());
    }
}
