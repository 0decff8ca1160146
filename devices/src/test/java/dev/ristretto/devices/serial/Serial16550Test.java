package dev.ristretto.devices.serial;

import static dev.ristretto.devices.serial.Serial16550.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.device.IrqLine;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class Serial16550Test {

    /** Records every call to set(): the IRQ line's transitions as the device drives them. */
    static final class RecordingIrq implements IrqLine {
        final List<Boolean> transitions = new ArrayList<>();

        @Override
        public void set(boolean asserted) {
            transitions.add(asserted);
        }

        boolean level() {
            return !transitions.isEmpty() && transitions.getLast();
        }
    }

    private RecordingIrq irq;
    private ByteArrayOutputStream out;
    private Serial16550 uart;

    @BeforeEach
    void setUp() {
        irq = new RecordingIrq();
        out = new ByteArrayOutputStream();
        uart = new Serial16550(irq, out::write);
    }

    private int in(int reg) {
        byte[] b = new byte[1];
        uart.read(reg, b);
        return b[0] & 0xff;
    }

    private void outb(int reg, int value) {
        uart.write(reg, new byte[] {(byte) value});
    }

    private void host(String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        assertEquals(b.length, uart.enqueue(b, 0, b.length));
    }

    /** Enables IRQ delivery as Linux does on a PC: OUT2 set in MCR. */
    private void openGate() {
        outb(MCR, MCR_OUT2 | MCR_DTR | MCR_RTS);
    }

    @Test
    void thrBytesReachTheSinkInOrder() {
        for (byte b : "hello\n".getBytes(StandardCharsets.US_ASCII)) {
            outb(RBR_THR_DLL, b);
        }
        assertEquals("hello\n", out.toString(StandardCharsets.US_ASCII));
        assertEquals(LSR_THRE | LSR_TEMT, in(LSR));
    }

    @Test
    void hostInputIsReadFromRbrAndSetsDataReady() {
        assertEquals(0, in(LSR) & LSR_DR);
        host("ab");
        // Character mode: only the RBR holds a byte; the rest waits in the host queue.
        assertEquals(1, uart.hostQueued());
        assertEquals(LSR_DR, in(LSR) & LSR_DR);
        assertEquals('a', in(RBR_THR_DLL));
        assertEquals('b', in(RBR_THR_DLL));
        assertEquals(0, in(LSR) & LSR_DR);
        assertEquals(0, uart.hostQueued());
    }

    @Test
    void dlabSwitchesOffsetsZeroAndOneToTheDivisorLatch() {
        outb(IER_DLM, IER_ERBFI);
        outb(LCR, LCR_DLAB | 0x03);
        assertEquals(0x0c, in(RBR_THR_DLL), "reset divisor is 12 (9600 baud)");
        outb(RBR_THR_DLL, 0x01);
        outb(IER_DLM, 0x00);
        assertEquals(0x01, in(RBR_THR_DLL));
        assertEquals(0x00, in(IER_DLM));
        assertEquals(0, out.size(), "a DLL write is not a transmitted byte");
        outb(LCR, 0x03);
        assertEquals(IER_ERBFI, in(IER_DLM), "IER kept its value under the latch");
        assertEquals(0x03, in(LCR));
    }

    @Test
    void iirReportsNoInterruptAfterReset() {
        assertEquals(IIR_NONE, in(IIR_FCR));
        assertFalse(irq.level());
    }

    @Test
    void lineStatusBeatsReceivedData() {
        outb(MCR, MCR_LOOP);
        outb(RBR_THR_DLL, 'x');
        outb(RBR_THR_DLL, 'y'); // RBR full in character mode: overrun
        outb(IER_DLM, IER_ELSI | IER_ERBFI);
        assertEquals(IIR_RLS, in(IIR_FCR));
        assertEquals(LSR_OE | LSR_DR, in(LSR) & (LSR_OE | LSR_DR));
        assertEquals(IIR_RDA, in(IIR_FCR), "LSR read cleared OE, data still waiting");
    }

    @Test
    void receivedDataBeatsThre() {
        outb(IER_DLM, IER_ERBFI | IER_ETBEI);
        host("z");
        assertEquals(IIR_RDA, in(IIR_FCR));
        in(RBR_THR_DLL);
        assertEquals(IIR_THRE, in(IIR_FCR));
    }

    @Test
    void threBeatsModemStatus() {
        outb(MCR, MCR_LOOP);
        in(MSR); // clear the deltas from entering loopback
        outb(MCR, MCR_LOOP | MCR_RTS); // DCTS delta
        outb(IER_DLM, IER_ETBEI | IER_EDSSI);
        assertEquals(IIR_THRE, in(IIR_FCR));
        assertEquals(IIR_MSR, in(IIR_FCR), "reading IIR cleared THRE, modem status remains");
        assertEquals(MSR_CTS | MSR_DCTS, in(MSR));
        assertEquals(IIR_NONE, in(IIR_FCR));
    }

    @Test
    void settingEtbeiWhileThrIsEmptyRaisesThreEachTime() {
        openGate();
        outb(IER_DLM, IER_ETBEI);
        assertTrue(irq.level());
        assertEquals(IIR_THRE, in(IIR_FCR));
        assertFalse(irq.level(), "IIR read cleared THRE");
        assertEquals(IIR_NONE, in(IIR_FCR));
        // Linux's UART_BUG_THRE probe: clear and set ETBEI again; THRE must come back.
        outb(IER_DLM, 0);
        outb(IER_DLM, IER_ETBEI);
        assertEquals(IIR_THRE, in(IIR_FCR));
        // Rewriting IER with ETBEI already set is not a new enable.
        outb(IER_DLM, IER_ETBEI);
        assertEquals(IIR_NONE, in(IIR_FCR));
    }

    @Test
    void thrWriteClearsAndTheImmediateTransmitReraisesThre() {
        openGate();
        outb(IER_DLM, IER_ETBEI);
        assertEquals(IIR_THRE, in(IIR_FCR));
        irq.transitions.clear();
        outb(RBR_THR_DLL, 'q');
        assertEquals(IIR_THRE, in(IIR_FCR));
        assertEquals(List.of(true, false), irq.transitions);
    }

    @Test
    void threWithoutEtbeiNeverInterrupts() {
        openGate();
        outb(RBR_THR_DLL, 'q');
        assertEquals(IIR_NONE, in(IIR_FCR));
        assertTrue(irq.transitions.isEmpty());
    }

    @Test
    void fifoEnabledBitsAppearInIir() {
        outb(IIR_FCR, FCR_ENABLE);
        assertEquals(IIR_FIFO_ENABLED | IIR_NONE, in(IIR_FCR));
        outb(IIR_FCR, 0);
        assertEquals(IIR_NONE, in(IIR_FCR));
    }

    @Test
    void rdaFollowsTheTriggerLevelAndTimeoutCoversDataBelowIt() {
        // Trigger level 8 (FCR bits 7:6 = 10).
        outb(IIR_FCR, FCR_ENABLE | 0x80);
        outb(IER_DLM, IER_ERBFI);
        host("1234567");
        assertEquals(IIR_FIFO_ENABLED | IIR_TIMEOUT, in(IIR_FCR));
        host("8");
        assertEquals(IIR_FIFO_ENABLED | IIR_RDA, in(IIR_FCR));
        in(RBR_THR_DLL);
        assertEquals(IIR_FIFO_ENABLED | IIR_TIMEOUT, in(IIR_FCR), "below trigger again");
    }

    @Test
    void eachTriggerLevelIsHonoured() {
        int[] fcrBits = {0x00, 0x40, 0x80, 0xc0};
        int[] levels = {1, 4, 8, 14};
        for (int i = 0; i < 4; i++) {
            setUp();
            outb(IIR_FCR, FCR_ENABLE | fcrBits[i]);
            outb(IER_DLM, IER_ERBFI);
            for (int n = 1; n <= 16; n++) {
                host("x");
                int expected = n >= levels[i] ? IIR_RDA : IIR_TIMEOUT;
                assertEquals(IIR_FIFO_ENABLED | expected, in(IIR_FCR), "level " + levels[i] + " n " + n);
            }
        }
    }

    @Test
    void fifoOverrunKeepsTheFifoSetsOeAndCounts() {
        outb(IIR_FCR, FCR_ENABLE);
        outb(MCR, MCR_LOOP);
        for (int i = 0; i < 18; i++) {
            outb(RBR_THR_DLL, 'a' + i);
        }
        assertEquals(2, uart.overrunCount());
        assertEquals(LSR_OE | LSR_DR, in(LSR) & (LSR_OE | LSR_DR));
        assertEquals(0, in(LSR) & LSR_OE, "OE clears on LSR read");
        for (int i = 0; i < 16; i++) {
            assertEquals('a' + i, in(RBR_THR_DLL));
        }
        assertEquals(0, in(LSR) & LSR_DR);
    }

    @Test
    void characterModeOverrunReplacesTheRbr() {
        outb(MCR, MCR_LOOP);
        outb(RBR_THR_DLL, 'a');
        outb(RBR_THR_DLL, 'b');
        assertEquals(1, uart.overrunCount());
        assertEquals('b', in(RBR_THR_DLL));
    }

    @Test
    void fcrClearReceiverDropsFifoContents() {
        outb(IIR_FCR, FCR_ENABLE);
        outb(MCR, MCR_LOOP);
        outb(RBR_THR_DLL, 'a');
        outb(RBR_THR_DLL, 'b');
        outb(IIR_FCR, FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX);
        assertEquals(0, in(LSR) & LSR_DR);
        assertEquals(IIR_FIFO_ENABLED | IIR_NONE, in(IIR_FCR), "FIFO stays enabled");
    }

    @Test
    void toggleFifoEnableClearsTheReceiver() {
        outb(IIR_FCR, FCR_ENABLE);
        outb(MCR, MCR_LOOP);
        outb(RBR_THR_DLL, 'a');
        outb(IIR_FCR, 0);
        assertEquals(0, in(LSR) & LSR_DR);
    }

    @Test
    void fcrBitsOtherThanEnableAreIgnoredWhileFifoIsOff() {
        outb(MCR, MCR_LOOP);
        outb(RBR_THR_DLL, 'a');
        outb(IIR_FCR, FCR_CLEAR_RX); // bit 0 clear: not programmed
        assertEquals('a', in(RBR_THR_DLL));
    }

    @Test
    void loopbackSendsTransmitToReceiveAndNothingOut() {
        outb(MCR, MCR_LOOP);
        outb(RBR_THR_DLL, 'L');
        assertEquals(0, out.size());
        assertEquals('L', in(RBR_THR_DLL));
    }

    @Test
    void loopbackMapsModemOutputsToInputsWithDeltas() {
        outb(MCR, MCR_LOOP);
        // Entering loopback with all outputs off drops DCD, DSR and CTS.
        assertEquals(MSR_DCTS | MSR_DDSR | MSR_DDCD, in(MSR));
        outb(MCR, MCR_LOOP | MCR_DTR);
        assertEquals(MSR_DSR | MSR_DDSR, in(MSR));
        outb(MCR, MCR_LOOP | MCR_DTR | MCR_RTS);
        assertEquals(MSR_DSR | MSR_CTS | MSR_DCTS, in(MSR));
        outb(MCR, MCR_LOOP | MCR_DTR | MCR_RTS | MCR_OUT1);
        assertEquals(MSR_DSR | MSR_CTS | MSR_RI, in(MSR), "RI rising sets no TERI");
        outb(MCR, MCR_LOOP | MCR_DTR | MCR_RTS);
        assertEquals(MSR_DSR | MSR_CTS | MSR_TERI, in(MSR), "RI falling sets TERI");
        outb(MCR, MCR_LOOP | MCR_DTR | MCR_RTS | MCR_OUT2);
        assertEquals(MSR_DSR | MSR_CTS | MSR_DCD | MSR_DDCD, in(MSR));
        assertEquals(MSR_DSR | MSR_CTS | MSR_DCD, in(MSR), "deltas clear on read");
    }

    @Test
    void withoutLoopbackATerminalIsConnected() {
        assertEquals(MSR_DCD | MSR_DSR | MSR_CTS, in(MSR));
        outb(MCR, MCR_DTR | MCR_RTS | MCR_OUT1 | MCR_OUT2);
        assertEquals(MSR_DCD | MSR_DSR | MSR_CTS, in(MSR));
    }

    @Test
    void hostInputWaitsWhileInLoopback() {
        outb(MCR, MCR_LOOP);
        host("h");
        assertEquals(0, in(LSR) & LSR_DR);
        outb(MCR, 0);
        assertEquals('h', in(RBR_THR_DLL));
    }

    @Test
    void hostBreakArrivesAsZeroWithBreakInterruptAndLineStatusIrq() {
        openGate();
        outb(IER_DLM, IER_ELSI | IER_ERBFI);
        assertTrue(uart.sendBreak());
        assertTrue(irq.level());
        assertEquals(IIR_RLS, in(IIR_FCR));
        assertEquals(LSR_BI | LSR_DR | LSR_THRE | LSR_TEMT, in(LSR));
        assertEquals(IIR_RDA, in(IIR_FCR), "LSR read cleared BI");
        assertEquals(0x00, in(RBR_THR_DLL));
        assertEquals(IIR_NONE, in(IIR_FCR));
        assertFalse(irq.level());
    }

    @Test
    void breakInFifoSetsLsrBit7AndBiOnlyAtTheTop() {
        outb(IIR_FCR, FCR_ENABLE);
        host("a");
        assertTrue(uart.sendBreak());
        host("b");
        assertEquals(LSR_FIFO_ERROR | LSR_DR, in(LSR) & (LSR_FIFO_ERROR | LSR_BI | LSR_DR),
                "an error is in the FIFO but not yet at the top");
        assertEquals('a', in(RBR_THR_DLL));
        assertEquals(LSR_FIFO_ERROR | LSR_BI, in(LSR) & (LSR_FIFO_ERROR | LSR_BI));
        assertEquals(LSR_FIFO_ERROR, in(LSR) & (LSR_FIFO_ERROR | LSR_BI), "BI cleared by the read");
        assertEquals(0x00, in(RBR_THR_DLL));
        assertEquals(0, in(LSR) & (LSR_FIFO_ERROR | LSR_BI));
        assertEquals('b', in(RBR_THR_DLL));
    }

    @Test
    void scratchRegisterHoldsAnyByte() {
        for (int v : new int[] {0x00, 0x55, 0xaa, 0xff}) {
            outb(SCR, v);
            assertEquals(v, in(SCR));
        }
    }

    @Test
    void irqLineTransitionsFollowTheState() {
        openGate();
        outb(IER_DLM, IER_ERBFI);
        assertEquals(List.of(), irq.transitions);
        host("ab");
        assertEquals(List.of(true), irq.transitions);
        in(RBR_THR_DLL); // 'b' moves in from the host queue: still asserted, no new transition
        assertEquals(List.of(true), irq.transitions);
        in(RBR_THR_DLL);
        assertEquals(List.of(true, false), irq.transitions);
    }

    @Test
    void out2GatesTheIrqOntoTheBus() {
        outb(IER_DLM, IER_ERBFI);
        host("a");
        assertEquals(IIR_RDA, in(IIR_FCR), "the source is pending inside the UART");
        assertTrue(irq.transitions.isEmpty(), "but OUT2 is off, so the ISA line stays low");
        outb(MCR, MCR_OUT2);
        assertEquals(List.of(true), irq.transitions);
        outb(MCR, 0);
        assertEquals(List.of(true, false), irq.transitions);
        outb(MCR, MCR_OUT2 | MCR_LOOP);
        assertEquals(List.of(true, false), irq.transitions, "loopback forces OUT2's pin inactive");
    }

    @Test
    void hostInputBeyondTheFifoIsQueuedNotLost() {
        outb(IIR_FCR, FCR_ENABLE | 0xc0);
        byte[] text = new byte[1000];
        for (int i = 0; i < text.length; i++) {
            text[i] = (byte) ('A' + i % 26);
        }
        assertEquals(text.length, uart.enqueue(text, 0, text.length));
        assertEquals(text.length - FIFO_SIZE, uart.hostQueued());
        byte[] got = new byte[text.length];
        for (int i = 0; i < got.length; i++) {
            assertEquals(LSR_DR, in(LSR) & LSR_DR);
            got[i] = (byte) in(RBR_THR_DLL);
        }
        assertArrayEquals(text, got);
        assertEquals(0, uart.overrunCount());
    }

    @Test
    void enqueueAcceptsOnlyWhatFitsAndHonoursOffset() {
        Serial16550 small = new Serial16550(IrqLine.NONE, SerialSink.DISCARD, 4);
        byte[] data = "0123456789".getBytes(StandardCharsets.US_ASCII);
        // One byte goes straight into the RBR, four wait in the host queue.
        assertEquals(5, small.enqueue(data, 2, 8));
        assertEquals(0, small.enqueue(data, 0, 1));
        byte[] b = new byte[1];
        small.read(RBR_THR_DLL, b);
        assertEquals('2', b[0]);
        assertEquals(1, small.enqueue(data, 9, 1));
    }

    /**
     * What Linux's 8250 driver does to a PC COM port before using it
     * (drivers/tty/serial/8250/8250_port.c): autoconfig's IER and loopback existence tests, the
     * FIFO probe that must classify the part as a 16550A (IIR bits 7:6 = 3) and not as one of the
     * extended parts autoconfig_16550a looks for, size_fifo's loopback count, then
     * serial8250_do_startup's THRE re-assertion test (UART_BUG_THRE) and TX-enable test
     * (UART_BUG_TXEN). A real 16550A passes all of them; so must we.
     */
    @Test
    void linux8250ProbeAndStartupSeeAWorking16550A() {
        // autoconfig: IER must read back 0 and then 0x0f.
        outb(IER_DLM, 0);
        assertEquals(0, in(IER_DLM) & 0x0f);
        outb(IER_DLM, 0x0f);
        assertEquals(0x0f, in(IER_DLM) & 0x0f);
        outb(IER_DLM, 0);
        // Loopback test: MCR = LOOP | OUT2 | RTS must read MSR high nibble 0x90 (DCD | CTS).
        int saveMcr = in(MCR);
        outb(MCR, MCR_LOOP | 0x0a);
        assertEquals(0x90, in(MSR) & 0xf0);
        outb(MCR, saveMcr);
        // EFR probe through LCR 0xBF (a plain FCR write on a 16550), then the FIFO probe.
        outb(LCR, 0xbf);
        outb(IIR_FCR, 0);
        outb(LCR, 0);
        outb(IIR_FCR, FCR_ENABLE);
        assertEquals(3, in(IIR_FCR) >> 6, "16550A");
        // autoconfig_16550a: EFR (offset 2 under LCR 0x80 / 0xBF) must not read 0 ...
        outb(LCR, 0x80);
        assertTrue(in(IIR_FCR) != 0, "not a 16650");
        outb(LCR, 0xbf);
        assertTrue(in(IIR_FCR) != 0, "not an EFR part");
        // ... offset 2 under LCR 0xE0 must not mirror MCR.LOOP (National Semiconductor test) ...
        outb(LCR, 0);
        int status1 = in(MCR);
        outb(MCR, status1 ^ MCR_LOOP);
        outb(LCR, 0xe0);
        int status2 = in(IIR_FCR);
        outb(LCR, 0);
        outb(MCR, status1);
        assertEquals(0, (status1 ^ status2) & MCR_LOOP, "not an NS16550A");
        // ... the 64-byte FIFO bit must not stick (16750) ...
        outb(IIR_FCR, FCR_ENABLE | 0x20);
        int iir1 = in(IIR_FCR) >> 5;
        outb(LCR, 0x80);
        outb(IIR_FCR, FCR_ENABLE | 0x20);
        int iir2 = in(IIR_FCR) >> 5;
        outb(IIR_FCR, FCR_ENABLE);
        outb(LCR, 0);
        assertTrue(!(iir1 == 6 && iir2 == 7), "not a 16750");
        // ... and IER bit 6 (UUE) must not stick (XScale).
        outb(IER_DLM, 0x40);
        assertEquals(0, in(IER_DLM) & 0x40, "not an XScale");
        outb(IER_DLM, 0);
        // size_fifo: 256 bytes sent in loopback, the FIFO keeps 16 of them.
        outb(IIR_FCR, FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX);
        outb(MCR, MCR_LOOP);
        for (int i = 0; i < 256; i++) {
            outb(RBR_THR_DLL, i);
        }
        int count = 0;
        while ((in(LSR) & LSR_DR) != 0 && count < 256) {
            in(RBR_THR_DLL);
            count++;
        }
        assertEquals(16, count);
        assertEquals(0, out.size(), "loopback traffic never left the chip");
        outb(MCR, 0);
        // serial8250_do_startup with an IRQ: THRE must re-assert after IER.THRI is toggled ...
        outb(MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
        outb(IER_DLM, IER_ETBEI);
        int first = in(IIR_FCR);
        outb(IER_DLM, 0);
        outb(IER_DLM, IER_ETBEI);
        int second = in(IIR_FCR);
        outb(IER_DLM, 0);
        assertEquals(0, first & IIR_NONE, "THRE raised on enable");
        assertEquals(0, second & IIR_NONE, "and again on re-enable: no UART_BUG_THRE");
        // ... and enabling the TX interrupt with TEMT set must interrupt (no UART_BUG_TXEN).
        outb(IER_DLM, IER_ETBEI);
        int lsr = in(LSR);
        int iir = in(IIR_FCR);
        outb(IER_DLM, 0);
        assertTrue(!((lsr & LSR_TEMT) != 0 && (iir & IIR_NONE) != 0), "no UART_BUG_TXEN");
    }

    /** A host thread pushing input while a "vCPU" thread drains it: nothing lost or reordered. */
    @Test
    void concurrentHostInputAndGuestReadsKeepEveryByteInOrder() throws Exception {
        outb(IIR_FCR, FCR_ENABLE);
        int total = 200_000;
        Thread host = Thread.ofPlatform().name("host-input").start(() -> {
            byte[] chunk = new byte[37];
            int sent = 0;
            while (sent < total) {
                int n = Math.min(chunk.length, total - sent);
                for (int i = 0; i < n; i++) {
                    chunk[i] = (byte) (sent + i);
                }
                int off = 0;
                while (off < n) {
                    off += uart.enqueue(chunk, off, n - off);
                    Thread.onSpinWait();
                }
                sent += n;
            }
        });
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            for (int received = 0; received < total; ) {
                if ((in(LSR) & LSR_DR) != 0) {
                    assertEquals(received & 0xff, in(RBR_THR_DLL), "byte " + received);
                    received++;
                }
            }
        });
        host.join();
        assertEquals(0, uart.overrunCount());
    }

    @Test
    void wideAccessesSplitIntoBytesAndPortsPastTheEndReadAllOnes() {
        outb(SCR, 0x5a);
        byte[] b = new byte[2];
        uart.read(SCR, b);
        assertArrayEquals(new byte[] {0x5a, (byte) 0xff}, b);
        uart.write(LCR, new byte[] {0x03, MCR_OUT2});
        assertEquals(0x03, in(LCR));
        assertEquals(MCR_OUT2, in(MCR));
    }
}
