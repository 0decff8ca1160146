package dev.ristretto.devices.serial;

import dev.ristretto.vmm.device.BusDevice;
import dev.ristretto.vmm.device.IrqLine;
import java.util.Objects;

/**
 * A National Semiconductor PC16550D UART (the PC's COM port) as a pure state machine: eight
 * byte-wide registers at offsets 0–7, an injected {@link IrqLine}, an injected {@link SerialSink}
 * for transmitted bytes, and host input pushed in through {@link #enqueue}.
 *
 * <p>Section references are to the PC16550D datasheet (National Semiconductor, June 1995), §8
 * "Registers"; the TI TL16C550 datasheet describes the same register set.
 *
 * <h2>Timing model</h2>
 * There is no wire and no baud clock. A byte written to THR is handed to the sink at once, so the
 * transmitter is always empty (LSR THRE and TEMT read 1) and the transmit FIFO never holds data.
 * Host input waits in a bounded host-side queue and moves into the receive FIFO (16 bytes in FIFO
 * mode, the single RBR otherwise) as soon as there is room — as if the line ran infinitely fast
 * but the remote end paused while the FIFO was full. That is why host input never overruns: only
 * loopback transmission can, because the transmitter does not wait for the receiver. A host
 * "break" ({@link #sendBreak()}) travels the same queue, so it stays in order with the data.
 *
 * <h2>Character timeout (§8.6, §8.11)</h2>
 * The real part reports a timeout when the receive FIFO holds data below the trigger level and no
 * character has moved for four character times. We have no character time, so we report the
 * timeout whenever the FIFO is non-empty and below the trigger level: the guest is told about
 * every waiting byte immediately instead of after a delay, which is deterministic and loses
 * nothing (Linux's 8250 driver reads until LSR.DR clears for both RDA and timeout).
 *
 * <h2>IRQ and OUT2 (§8.8)</h2>
 * On the PC the UART's INTR pin reaches the ISA IRQ line through a tri-state driver enabled by the
 * UART's OUT2 output, so software that does not set MCR.OUT2 never sees an interrupt (Linux sets
 * OUT2 when it opens a port that has an IRQ). In loopback the OUT pins are forced inactive (§8.8),
 * so the PC's driver is disabled and the line stays low even though IIR still reports sources.
 * The line is recomputed in exactly one place, {@link #updateIrq()}, after every access.
 *
 * <p>Thread safety: every access takes this device's own lock; the sink and the IRQ line are
 * called with it held so their order matches the order of the register accesses.
 */
public final class Serial16550 implements BusDevice {

    /** Conventional COM1 base port and ISA IRQ. */
    public static final int COM1_PORT = 0x3f8;
    public static final int COM1_IRQ = 4;
    /** Number of I/O ports the UART decodes. */
    public static final int PORT_COUNT = 8;
    /** Receive FIFO depth in FIFO mode (§8.5). */
    public static final int FIFO_SIZE = 16;
    /** Default capacity of the host-side input queue behind the FIFO. */
    public static final int DEFAULT_HOST_QUEUE = 64 * 1024;

    // Register offsets (§8, Table "Summary of Registers").
    static final int RBR_THR_DLL = 0;
    static final int IER_DLM = 1;
    static final int IIR_FCR = 2;
    static final int LCR = 3;
    static final int MCR = 4;
    static final int LSR = 5;
    static final int MSR = 6;
    static final int SCR = 7;

    // IER bits (§8.7).
    static final int IER_ERBFI = 0x01;
    static final int IER_ETBEI = 0x02;
    static final int IER_ELSI = 0x04;
    static final int IER_EDSSI = 0x08;
    static final int IER_MASK = 0x0f;

    // IIR values (§8.6): bit 0 clear means "interrupt pending"; bits 6-7 set when FIFOs enabled.
    static final int IIR_NONE = 0x01;
    static final int IIR_RLS = 0x06;
    static final int IIR_RDA = 0x04;
    static final int IIR_TIMEOUT = 0x0c;
    static final int IIR_THRE = 0x02;
    static final int IIR_MSR = 0x00;
    static final int IIR_FIFO_ENABLED = 0xc0;

    // FCR bits (§8.5).
    static final int FCR_ENABLE = 0x01;
    static final int FCR_CLEAR_RX = 0x02;
    static final int FCR_CLEAR_TX = 0x04;
    static final int FCR_TRIGGER_SHIFT = 6;

    // LCR (§8.1): bit 7 is the divisor latch access bit.
    static final int LCR_DLAB = 0x80;

    // MCR bits (§8.8).
    static final int MCR_DTR = 0x01;
    static final int MCR_RTS = 0x02;
    static final int MCR_OUT1 = 0x04;
    static final int MCR_OUT2 = 0x08;
    static final int MCR_LOOP = 0x10;
    static final int MCR_MASK = 0x1f;

    // LSR bits (§8.4).
    static final int LSR_DR = 0x01;
    static final int LSR_OE = 0x02;
    static final int LSR_PE = 0x04;
    static final int LSR_FE = 0x08;
    static final int LSR_BI = 0x10;
    static final int LSR_THRE = 0x20;
    static final int LSR_TEMT = 0x40;
    static final int LSR_FIFO_ERROR = 0x80;
    static final int LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

    // MSR bits (§8.9): low nibble are deltas, high nibble the line states.
    static final int MSR_DCTS = 0x01;
    static final int MSR_DDSR = 0x02;
    static final int MSR_TERI = 0x04;
    static final int MSR_DDCD = 0x08;
    static final int MSR_CTS = 0x10;
    static final int MSR_DSR = 0x20;
    static final int MSR_RI = 0x40;
    static final int MSR_DCD = 0x80;
    static final int MSR_DELTAS = 0x0f;
    /** Without loopback a terminal is "connected": carrier, data set ready and clear to send. */
    static final int MSR_LINES_CONNECTED = MSR_DCD | MSR_DSR | MSR_CTS;

    /** RX trigger levels selected by FCR bits 7:6 (§8.5). */
    private static final int[] TRIGGER_LEVELS = {1, 4, 8, 14};

    private final Object lock = new Object();
    private final IrqLine irq;
    private final SerialSink sink;

    /**
     * A received "character" is its byte in bits 0–7 plus {@link #BREAK} for a break condition,
     * which the 16550 stores in the FIFO as a 0x00 character tagged with its BI error (§8.4).
     */
    private static final short BREAK = 0x100;

    // Receive FIFO (ring buffer). In non-FIFO ("character") mode only one slot is used: the RBR.
    private final short[] rxFifo = new short[FIFO_SIZE];
    private int rxHead;
    private int rxCount;
    /** Break characters currently in the receive FIFO (for LSR bit 7). */
    private int rxBreaks;

    // Host-side queue feeding the receive FIFO (ring buffer), same encoding as the FIFO.
    private final short[] hostQueue;
    private int hostHead;
    private int hostCount;

    private int ier;
    private int lcr;
    private int mcr;
    private int lsrErrors;
    private int msrDeltas;
    private int scr;
    private int dll = 0x0c; // 9600 baud with the PC's 1.8432 MHz clock; the divisor is not reset (§8.3)
    private int dlm;
    private boolean fifoEnabled;
    private int triggerLevel = 1;
    /** THRE interrupt latch: set when THR empties, cleared by IIR read or THR write (§8.6). */
    private boolean threPending;
    private boolean irqLevel;
    private long overruns;

    /** A UART with the default 64 KiB host-input queue. */
    public Serial16550(IrqLine irq, SerialSink sink) {
        this(irq, sink, DEFAULT_HOST_QUEUE);
    }

    /** A UART whose host-input queue holds {@code hostQueueCapacity} bytes behind the FIFO. */
    public Serial16550(IrqLine irq, SerialSink sink, int hostQueueCapacity) {
        this.irq = Objects.requireNonNull(irq, "irq");
        this.sink = Objects.requireNonNull(sink, "sink");
        if (hostQueueCapacity < 1) {
            throw new IllegalArgumentException(
                    "serial host queue capacity " + hostQueueCapacity + " must be at least 1 byte");
        }
        this.hostQueue = new short[hostQueueCapacity];
    }

    // ---------------------------------------------------------------------------------------
    // Host side

    /**
     * Queues host input for the guest to receive. Returns how many bytes were accepted (fewer than
     * {@code len} when the host queue is full); the caller keeps the rest and retries later.
     */
    public int enqueue(byte[] data, int off, int len) {
        Objects.checkFromIndexSize(off, len, data.length);
        synchronized (lock) {
            int accepted = 0;
            while (accepted < len && hostInput((short) (data[off + accepted] & 0xff))) {
                accepted++;
            }
            updateIrq();
            return accepted;
        }
    }

    /**
     * Signals a break on the receive line (the host's "send break", which Linux turns into a
     * magic SysRq prefix): the guest receives a 0x00 character with LSR BI set (§8.4), in order
     * with the surrounding input. Returns false if the host queue is full.
     */
    public boolean sendBreak() {
        synchronized (lock) {
            boolean accepted = hostInput(BREAK);
            updateIrq();
            return accepted;
        }
    }

    /** One character from the host, straight into the receiver if nothing is queued before it. */
    private boolean hostInput(short ch) {
        if (hostCount == 0 && (mcr & MCR_LOOP) == 0 && rxCount < rxCapacity()) {
            receive(ch);
        } else if (hostCount < hostQueue.length) {
            hostQueue[(hostHead + hostCount) % hostQueue.length] = ch;
            hostCount++;
        } else {
            return false;
        }
        return true;
    }

    /** Bytes of host input not yet moved into the receive FIFO. */
    public int hostQueued() {
        synchronized (lock) {
            return hostCount;
        }
    }

    /** How many received characters were lost to overrun (§8.4 LSR bit 1) since creation. */
    public long overrunCount() {
        synchronized (lock) {
            return overruns;
        }
    }

    // ---------------------------------------------------------------------------------------
    // Bus side

    /**
     * A wider-than-byte access is split into byte accesses at consecutive offsets, as the ISA bus
     * does for an 8-bit device; bytes past the UART's eight ports read as all-ones.
     */
    @Override
    public void read(long offset, byte[] data) {
        synchronized (lock) {
            for (int i = 0; i < data.length; i++) {
                long port = offset + i;
                data[i] = (byte) (port >= 0 && port < PORT_COUNT ? readRegister((int) port) : 0xff);
            }
            updateIrq();
        }
    }

    @Override
    public void write(long offset, byte[] data) {
        synchronized (lock) {
            for (int i = 0; i < data.length; i++) {
                long port = offset + i;
                if (port >= 0 && port < PORT_COUNT) {
                    writeRegister((int) port, data[i] & 0xff);
                }
            }
            updateIrq();
        }
    }

    private int readRegister(int reg) {
        return switch (reg) {
            case RBR_THR_DLL -> (lcr & LCR_DLAB) != 0 ? dll : readRbr();
            case IER_DLM -> (lcr & LCR_DLAB) != 0 ? dlm : ier;
            case IIR_FCR -> readIir();
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> readLsr();
            case MSR -> readMsr();
            case SCR -> scr;
            default -> throw new AssertionError(reg);
        };
    }

    private void writeRegister(int reg, int value) {
        switch (reg) {
            case RBR_THR_DLL -> {
                if ((lcr & LCR_DLAB) != 0) {
                    dll = value;
                } else {
                    writeThr((byte) value);
                }
            }
            case IER_DLM -> {
                if ((lcr & LCR_DLAB) != 0) {
                    dlm = value;
                } else {
                    writeIer(value);
                }
            }
            case IIR_FCR -> writeFcr(value);
            case LCR -> lcr = value;
            case MCR -> writeMcr(value);
            // LSR and MSR are read-only; writes to them are ignored as on the real part ("factory
            // test" use only, §8.4 note).
            case LSR, MSR -> { }
            case SCR -> scr = value;
            default -> throw new AssertionError(reg);
        }
    }

    private int readRbr() {
        if (rxCount == 0) {
            // Reading an empty RBR returns stale data on the real part; 0 is as good and stable.
            return 0;
        }
        short ch = rxFifo[rxHead];
        if ((ch & BREAK) != 0) {
            rxBreaks--;
        }
        rxHead = (rxHead + 1) % FIFO_SIZE;
        rxCount--;
        if (rxCount > 0) {
            revealTopErrors();
        }
        feedReceiver();
        return ch & 0xff;
    }

    private int readIir() {
        int id = pendingInterrupt();
        if (id == IIR_THRE) {
            // §8.6: reading IIR clears a THRE interrupt when it is the one being reported.
            threPending = false;
        }
        return id | (fifoEnabled ? IIR_FIFO_ENABLED : 0);
    }

    private int readLsr() {
        int value = lsrValue();
        // §8.4: OE, PE, FE and BI are reset whenever the CPU reads the LSR.
        lsrErrors = 0;
        return value;
    }

    private int readMsr() {
        int value = msrLines() | msrDeltas;
        // §8.9: the delta bits are reset whenever the CPU reads the MSR.
        msrDeltas = 0;
        return value;
    }

    private void writeThr(byte b) {
        // §8.6: writing THR clears a pending THRE interrupt. We then transmit instantly, so the
        // THR empties again and, per the same rule, raises THRE once more if it is enabled.
        threPending = false;
        if ((mcr & MCR_LOOP) != 0) {
            // §8.8: in loopback the transmitter output is connected to the receiver input and
            // nothing leaves the chip.
            receive((short) (b & 0xff));
        } else {
            sink.write(b);
        }
        threPending = (ier & IER_ETBEI) != 0;
    }

    private void writeIer(int value) {
        int old = ier;
        ier = value & IER_MASK;
        boolean etbeiRaised = (old & IER_ETBEI) == 0 && (ier & IER_ETBEI) != 0;
        if (etbeiRaised) {
            // The THR is always empty here, so enabling ETBEI raises THRE at once. Linux's 8250
            // driver depends on this: serial8250_do_startup toggles ETBEI and reads IIR to detect
            // UARTs that do not re-raise THRE (UART_BUG_THRE), and __start_tx enables ETBEI to
            // get the interrupt that starts transmission.
            threPending = true;
        } else if ((ier & IER_ETBEI) == 0) {
            threPending = false;
        }
    }

    private void writeFcr(int value) {
        boolean enable = (value & FCR_ENABLE) != 0;
        if (enable != fifoEnabled) {
            // §8.5: changing FCR0 clears both FIFOs.
            clearReceiver();
            fifoEnabled = enable;
        }
        if (!enable) {
            // §8.5: FCR0 must be 1 for the other FCR bits to be programmed.
            return;
        }
        if ((value & FCR_CLEAR_RX) != 0) {
            clearReceiver();
        }
        // FCR_CLEAR_TX (bit 2) clears the transmit FIFO, which is always empty in this model.
        triggerLevel = TRIGGER_LEVELS[(value >>> FCR_TRIGGER_SHIFT) & 3];
        // Characters can now move from the host queue into a possibly larger FIFO.
        feedReceiver();
    }

    private void writeMcr(int value) {
        int oldLines = msrLines();
        mcr = value & MCR_MASK;
        int newLines = msrLines();
        int changed = oldLines ^ newLines;
        // §8.9: DCTS, DDSR and DDCD flag any change; TERI flags RI going from on to off.
        if ((changed & MSR_CTS) != 0) {
            msrDeltas |= MSR_DCTS;
        }
        if ((changed & MSR_DSR) != 0) {
            msrDeltas |= MSR_DDSR;
        }
        if ((changed & MSR_DCD) != 0) {
            msrDeltas |= MSR_DDCD;
        }
        if ((oldLines & MSR_RI) != 0 && (newLines & MSR_RI) == 0) {
            msrDeltas |= MSR_TERI;
        }
        feedReceiver();
    }

    /** The MSR's upper nibble: loopback maps MCR outputs to inputs (§8.8), else a terminal. */
    private int msrLines() {
        if ((mcr & MCR_LOOP) == 0) {
            return MSR_LINES_CONNECTED;
        }
        int lines = 0;
        if ((mcr & MCR_RTS) != 0) {
            lines |= MSR_CTS;
        }
        if ((mcr & MCR_DTR) != 0) {
            lines |= MSR_DSR;
        }
        if ((mcr & MCR_OUT1) != 0) {
            lines |= MSR_RI;
        }
        if ((mcr & MCR_OUT2) != 0) {
            lines |= MSR_DCD;
        }
        return lines;
    }

    private int lsrValue() {
        // THRE and TEMT are always set: transmission completes within the THR write.
        int value = LSR_THRE | LSR_TEMT | lsrErrors;
        if (rxCount > 0) {
            value |= LSR_DR;
        }
        // Bit 7 (§8.4, FIFO mode only): an error-tagged character is somewhere in the FIFO. With no
        // physical line parity and framing errors never happen; a host break is the one source.
        if (fifoEnabled && rxBreaks > 0) {
            value |= LSR_FIFO_ERROR;
        }
        return value;
    }

    private int rxCapacity() {
        return fifoEnabled ? FIFO_SIZE : 1;
    }

    /** Puts one received character into the FIFO or RBR, recording an overrun if it is full. */
    private void receive(short ch) {
        if (rxCount < rxCapacity()) {
            rxFifo[(rxHead + rxCount) % FIFO_SIZE] = ch;
            rxCount++;
            if ((ch & BREAK) != 0) {
                rxBreaks++;
            }
            if (rxCount == 1) {
                revealTopErrors();
            }
            return;
        }
        // §8.4 OE: in character mode the new character overwrites the RBR; in FIFO mode it
        // overwrites the shift register and the FIFO keeps its contents.
        if (!fifoEnabled) {
            if ((rxFifo[rxHead] & BREAK) != 0) {
                rxBreaks--;
            }
            rxFifo[rxHead] = ch;
            if ((ch & BREAK) != 0) {
                rxBreaks++;
            }
            revealTopErrors();
        }
        lsrErrors |= LSR_OE;
        overruns++;
    }

    /**
     * §8.4: a character's error bits (here only BI) show in the LSR when that character reaches
     * the top of the FIFO, i.e. becomes the next one RBR returns; an LSR read clears them.
     */
    private void revealTopErrors() {
        if ((rxFifo[rxHead] & BREAK) != 0) {
            lsrErrors |= LSR_BI;
        }
    }

    private void clearReceiver() {
        rxHead = 0;
        rxCount = 0;
        rxBreaks = 0;
    }

    /** Moves host input into the receiver while it has room (never in loopback: line is cut). */
    private void feedReceiver() {
        if ((mcr & MCR_LOOP) != 0) {
            return;
        }
        while (hostCount > 0 && rxCount < rxCapacity()) {
            receive(hostQueue[hostHead]);
            hostHead = (hostHead + 1) % hostQueue.length;
            hostCount--;
        }
    }

    /** The highest-priority pending source as an IIR code (§8.6, interrupt priority table). */
    private int pendingInterrupt() {
        if ((ier & IER_ELSI) != 0 && (lsrErrors & LSR_ERRORS) != 0) {
            return IIR_RLS;
        }
        if ((ier & IER_ERBFI) != 0 && rxCount > 0) {
            if (!fifoEnabled || rxCount >= triggerLevel) {
                return IIR_RDA;
            }
            return IIR_TIMEOUT; // deterministic stand-in for the four-character timeout
        }
        if ((ier & IER_ETBEI) != 0 && threPending) {
            return IIR_THRE;
        }
        if ((ier & IER_EDSSI) != 0 && msrDeltas != 0) {
            return IIR_MSR;
        }
        return IIR_NONE;
    }

    /** The level the ISA IRQ line must have now: a source pending and the PC's OUT2 gate open. */
    private boolean irqShouldBeAsserted() {
        return pendingInterrupt() != IIR_NONE
                && (mcr & MCR_OUT2) != 0
                && (mcr & MCR_LOOP) == 0;
    }

    /** The one place the IRQ line is driven; it is only touched on a change of level. */
    private void updateIrq() {
        boolean level = irqShouldBeAsserted();
        if (level != irqLevel) {
            irqLevel = level;
            irq.set(level);
        }
    }

    /** Test hook: the level this device last drove onto its IRQ line. */
    boolean irqLevel() {
        synchronized (lock) {
            return irqLevel;
        }
    }

    /** Test hook: what the state says the line should be, computed afresh. */
    boolean irqExpected() {
        synchronized (lock) {
            return irqShouldBeAsserted();
        }
    }
}
