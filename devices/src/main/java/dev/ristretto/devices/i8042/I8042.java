package dev.ristretto.devices.i8042;

import dev.ristretto.vmm.device.BusDevice;
import dev.ristretto.vmm.device.IrqLine;
import dev.ristretto.vmm.device.PowerControl;
import java.util.ArrayDeque;
import java.util.Objects;

/**
 * The PC/AT keyboard controller (Intel 8042 running the IBM keyboard-controller firmware) with a
 * PS/2 keyboard behind it and an auxiliary (mouse) port with nothing plugged in.
 *
 * <p>The controller decodes two I/O ports, so it is exposed as two bus devices that the machine
 * inserts separately: {@link #dataPort()} at 0x60 (length 1) and {@link #commandPort()} at 0x64
 * (length 1; reads give the status register, writes are controller commands).
 *
 * <p>References: IBM Personal System/2 Hardware Interface Technical Reference (1988), "Keyboard
 * and Auxiliary Device Controller" — status register, command byte, controller commands, input and
 * output ports — and "Keyboard" — keyboard commands and responses. Section names are cited below
 * as [IBM-KBC] and [IBM-KBD]. Linux's drivers/input/serio/i8042.c is what must work against this.
 *
 * <h2>Model</h2>
 * Commands and data are processed the moment they are written, so the input buffer is never full
 * (status IBF is always 0) and a reply is in the output buffer when the guest next polls. Bytes
 * waiting for the output buffer come from three sources, in this order:
 * <ol>
 *   <li>controller replies (command byte, test results, port reads, loop-back echoes) — produced
 *       by the controller itself, so not held back by the interface-disable bits;</li>
 *   <li>the keyboard's own queue (ACKs, identification, host key presses), held back while the
 *       command byte disables the keyboard interface ([IBM-KBC] command byte bit 4);</li>
 *   <li>nothing from the auxiliary device: none is attached.</li>
 * </ol>
 * A byte sent to the absent auxiliary device (command 0xD4) is answered as a real controller
 * answers when no device clocks the line: 0xFE in the output buffer with the status time-out bit
 * set, flagged as auxiliary data. Linux's psmouse turns that into a quick "no mouse" instead of a
 * long probe time-out.
 *
 * <p>IRQ 1 is asserted while the output buffer holds keyboard-side data and command-byte bit 0 is
 * set; IRQ 12 while it holds auxiliary data and bit 1 is set ([IBM-KBC] command byte). Both lines
 * are recomputed in one place, {@link #updateIrqs()}, after every access.
 *
 * <h2>Scan-code translation</h2>
 * Command-byte bit 6 (translate to set 1) is stored and reported but not applied: the keyboard
 * sends exactly the bytes the host pushes. The default command byte therefore has bit 6 clear, so
 * Linux's i8042 driver reads it and uses the keyboard untranslated (i8042_direct), and hosts should
 * push scan-code set 2 through {@link #pushKeyboardBytes}.
 */
public final class I8042 {

    /** Conventional ports and ISA IRQs. */
    public static final int DATA_PORT = 0x60;
    public static final int COMMAND_PORT = 0x64;
    public static final int KEYBOARD_IRQ = 1;
    public static final int AUX_IRQ = 12;

    // Status register bits ([IBM-KBC] "Status Register").
    static final int STR_OBF = 0x01;
    static final int STR_IBF = 0x02;
    static final int STR_SYS = 0x04;
    static final int STR_CMD = 0x08; // A2: the last write went to the command port
    static final int STR_UNLOCKED = 0x10; // keyboard inhibit switch: 1 = not inhibited
    static final int STR_AUXDATA = 0x20;
    static final int STR_TIMEOUT = 0x40;

    // Command byte bits ([IBM-KBC] "Controller Command Byte").
    static final int CTR_KBDINT = 0x01;
    static final int CTR_AUXINT = 0x02;
    static final int CTR_SYS = 0x04;
    static final int CTR_KBDDIS = 0x10;
    static final int CTR_AUXDIS = 0x20;
    static final int CTR_XLATE = 0x40;

    /**
     * What a BIOS leaves after POST, minus translation (see class comment): keyboard interrupt on,
     * system flag set (self test passed), auxiliary interface disabled.
     */
    static final int DEFAULT_CTR = CTR_KBDINT | CTR_SYS | CTR_AUXDIS;

    // Output port bits ([IBM-KBC] "Output Port").
    static final int OUT_RESET = 0x01; // 0 holds the processor in reset
    static final int OUT_A20 = 0x02;
    static final int OUT_KBD_OBF = 0x10; // wired to IRQ 1
    static final int OUT_AUX_OBF = 0x20; // wired to IRQ 12
    /** Output port after power-on: reset released, A20 enabled, clock and data lines high. */
    static final int DEFAULT_OUTPUT_PORT = OUT_RESET | OUT_A20 | 0xc0;

    /**
     * Input port as read by command 0xC0 ([IBM-KBC] "Input Port"): bit 7 high means the keyboard
     * inhibit switch is off; bit 5 (manufacturing jumper) high means "not installed". The other
     * bits describe motherboard jumpers nothing reads today.
     */
    static final int INPUT_PORT = 0xa0;

    /** Depth of the keyboard's own output buffer (a PS/2 keyboard buffers 16 key codes). */
    static final int KEYBOARD_QUEUE = 16;

    /**
     * Controller replies that may wait behind a full output buffer. The real controller stalls
     * (keeps IBF set) until the guest reads; we answer at once, so a guest that issues commands
     * and never reads would otherwise grow this queue without bound. Beyond this depth replies
     * are dropped and counted.
     */
    static final int CONTROLLER_QUEUE = 16;

    /** The two decoded ports. */
    private enum Port { DATA, COMMAND }

    /** One byte waiting for, or sitting in, the output buffer. */
    private record Out(int value, boolean aux, boolean timeout) {
    }

    private final Object lock = new Object();
    private final IrqLine keyboardIrq;
    private final IrqLine auxIrq;
    private final PowerControl power;
    private final Keyboard keyboard = new Keyboard();

    /** Internal RAM read/written by 0x20–0x3F / 0x60–0x7F; byte 0 is the command byte. */
    private final int[] ram = new int[32];
    private final ArrayDeque<Out> controllerQueue = new ArrayDeque<>();
    private Out outputBuffer; // null when OBF is clear
    private int lastOutput; // what a read of port 0x60 returns while OBF is clear
    private boolean lastWriteWasCommand;
    /** The command whose data byte the next write to port 0x60 carries, or -1. */
    private int pendingCommand = -1;
    private int outputPort = DEFAULT_OUTPUT_PORT;
    private boolean keyboardIrqLevel;
    private boolean auxIrqLevel;
    private long ignoredCommands;
    private long droppedReplies;

    private final BusDevice dataPort = new BusDevice() {
        @Override
        public void read(long offset, byte[] data) {
            access(Port.DATA, offset, data, false);
        }

        @Override
        public void write(long offset, byte[] data) {
            access(Port.DATA, offset, data, true);
        }
    };

    private final BusDevice commandPort = new BusDevice() {
        @Override
        public void read(long offset, byte[] data) {
            access(Port.COMMAND, offset, data, false);
        }

        @Override
        public void write(long offset, byte[] data) {
            access(Port.COMMAND, offset, data, true);
        }
    };

    public I8042(IrqLine keyboardIrq, IrqLine auxIrq, PowerControl power) {
        this.keyboardIrq = Objects.requireNonNull(keyboardIrq, "keyboardIrq");
        this.auxIrq = Objects.requireNonNull(auxIrq, "auxIrq");
        this.power = Objects.requireNonNull(power, "power");
        ram[0] = DEFAULT_CTR;
    }

    /** Port 0x60: output buffer on read, command data or keyboard data on write. */
    public BusDevice dataPort() {
        return dataPort;
    }

    /** Port 0x64: status register on read, controller command on write. */
    public BusDevice commandPort() {
        return commandPort;
    }

    /**
     * Host key input: bytes the keyboard sends as if keys were pressed (scan-code set 2, see the
     * class comment). Returns how many were accepted; the keyboard's 16-byte buffer refuses the
     * rest, and drops everything while the guest has disabled scanning (keyboard command 0xF5).
     */
    public int pushKeyboardBytes(byte[] data, int off, int len) {
        Objects.checkFromIndexSize(off, len, data.length);
        synchronized (lock) {
            int accepted = keyboard.hostInput(data, off, len);
            refillOutputBuffer();
            updateIrqs();
            return accepted;
        }
    }

    /** Controller commands the model does not implement (written and ignored), for diagnostics. */
    public long ignoredCommands() {
        synchronized (lock) {
            return ignoredCommands;
        }
    }

    /** Controller replies dropped because the guest left {@value #CONTROLLER_QUEUE} unread. */
    public long droppedReplies() {
        synchronized (lock) {
            return droppedReplies;
        }
    }

    /**
     * The keyboard LED state last set by the guest (keyboard command 0xED): bit 0 Scroll Lock,
     * bit 1 Num Lock, bit 2 Caps Lock ([IBM-KBD] "Set/Reset Status Indicators").
     */
    public int keyboardLeds() {
        synchronized (lock) {
            return keyboard.leds;
        }
    }

    private void access(Port port, long offset, byte[] data, boolean write) {
        synchronized (lock) {
            for (int i = 0; i < data.length; i++) {
                if (offset + i != 0) {
                    // Only offset 0 is decoded; a wider access spills onto ports we do not own.
                    if (!write) {
                        data[i] = (byte) 0xff;
                    }
                    continue;
                }
                int value = data[i] & 0xff;
                switch (port) {
                    case DATA -> {
                        if (write) {
                            writeData(value);
                        } else {
                            data[i] = (byte) readData();
                        }
                    }
                    case COMMAND -> {
                        if (write) {
                            writeCommand(value);
                        } else {
                            data[i] = (byte) readStatus();
                        }
                    }
                }
            }
            refillOutputBuffer();
            updateIrqs();
        }
    }

    private int ctr() {
        return ram[0];
    }

    private int readStatus() {
        int status = STR_UNLOCKED;
        if ((ctr() & CTR_SYS) != 0) {
            status |= STR_SYS;
        }
        if (lastWriteWasCommand) {
            status |= STR_CMD;
        }
        if (outputBuffer != null) {
            status |= STR_OBF;
            if (outputBuffer.aux()) {
                status |= STR_AUXDATA;
            }
            if (outputBuffer.timeout()) {
                status |= STR_TIMEOUT;
            }
        }
        return status;
    }

    private int readData() {
        if (outputBuffer != null) {
            lastOutput = outputBuffer.value();
            outputBuffer = null;
            // Drop the line now, before the next queued byte refills the buffer: IRQ 1 and 12
            // are edge-triggered on the PIC and Linux's i8042_interrupt takes one byte per
            // interrupt, so every byte needs its own rising edge.
            updateIrqs();
        }
        // With OBF clear the 8042 returns the last byte again; Linux's i8042_flush only reads
        // while OBF is set, so this is just for guests that read blindly.
        return lastOutput;
    }

    private void reply(int value) {
        queueOutput(new Out(value, false, false));
    }

    private void queueOutput(Out out) {
        if (controllerQueue.size() < CONTROLLER_QUEUE) {
            controllerQueue.add(out);
        } else {
            droppedReplies++;
        }
    }

    private void writeCommand(int cmd) {
        lastWriteWasCommand = true;
        pendingCommand = -1;
        if (cmd >= 0x20 && cmd <= 0x3f) {
            reply(ram[cmd - 0x20]); // 0x20 reads the command byte
            return;
        }
        if (cmd >= 0x60 && cmd <= 0x7f) {
            pendingCommand = cmd; // 0x60 writes the command byte
            return;
        }
        if (cmd >= 0xf0) {
            pulseOutputPort(cmd);
            return;
        }
        switch (cmd) {
            case 0xa7 -> ram[0] |= CTR_AUXDIS;
            case 0xa8 -> ram[0] &= ~CTR_AUXDIS;
            case 0xa9 -> reply(0x00); // auxiliary interface test: lines not stuck
            case 0xaa -> {
                // Self test passed ([IBM-KBC] command AA: 0x55). It leaves the system flag set.
                ram[0] |= CTR_SYS;
                reply(0x55);
            }
            case 0xab -> reply(0x00); // keyboard interface test: no error
            case 0xad -> ram[0] |= CTR_KBDDIS;
            case 0xae -> ram[0] &= ~CTR_KBDDIS;
            case 0xc0 -> reply(INPUT_PORT);
            case 0xd0 -> reply(outputPortValue());
            case 0xd1, 0xd2, 0xd3, 0xd4 -> pendingCommand = cmd;
            default -> ignoredCommands++;
        }
    }

    private void writeData(int value) {
        lastWriteWasCommand = false;
        int cmd = pendingCommand;
        pendingCommand = -1;
        if (cmd >= 0x60 && cmd <= 0x7f) {
            ram[cmd - 0x60] = value;
            return;
        }
        switch (cmd) {
            case 0xd1 -> writeOutputPort(value);
            // 0xD2/0xD3: the byte comes back as if the keyboard / auxiliary device sent it.
            case 0xd2 -> queueOutput(new Out(value, false, false));
            case 0xd3 -> queueOutput(new Out(value, true, false));
            // 0xD4: to the auxiliary device, which is absent: the controller times out.
            case 0xd4 -> queueOutput(new Out(0xfe, true, true));
            default -> {
                // Not a command parameter: the byte goes to the keyboard. Sending to the keyboard
                // enables its interface, as real controllers (and QEMU's model of them) do.
                ram[0] &= ~CTR_KBDDIS;
                keyboard.command(value);
            }
        }
    }

    private int outputPortValue() {
        int value = outputPort & ~(OUT_KBD_OBF | OUT_AUX_OBF);
        if (outputBuffer != null) {
            value |= outputBuffer.aux() ? OUT_AUX_OBF : OUT_KBD_OBF;
        }
        return value;
    }

    private void writeOutputPort(int value) {
        outputPort = value & ~(OUT_KBD_OBF | OUT_AUX_OBF);
        // A20 (bit 1) is recorded for read-back only: KVM guests have no A20 gate to close.
        if ((value & OUT_RESET) == 0) {
            // Bit 0 low drives the processor's RESET line ([IBM-KBC] "Output Port").
            power.requestReset("i8042");
            outputPort |= OUT_RESET;
        }
    }

    /**
     * Commands 0xF0–0xFF pulse the output port bits 0–3 whose command bits are 0 low for about
     * 6 µs ([IBM-KBC] command F0–FF). Only bit 0 (processor reset) has an effect here; 0xFE is the
     * classic "reset the PC" used by Linux's reboot=k.
     */
    private void pulseOutputPort(int cmd) {
        if ((cmd & OUT_RESET) == 0) {
            power.requestReset("i8042");
        }
    }

    private void refillOutputBuffer() {
        if (outputBuffer != null) {
            return;
        }
        if (!controllerQueue.isEmpty()) {
            outputBuffer = controllerQueue.poll();
        } else if ((ctr() & CTR_KBDDIS) == 0 && keyboard.hasOutput()) {
            outputBuffer = new Out(keyboard.takeOutput(), false, false);
        }
    }

    /** The one place the IRQ lines are driven; each is touched only when its level changes. */
    private void updateIrqs() {
        boolean kbd = outputBuffer != null && !outputBuffer.aux() && (ctr() & CTR_KBDINT) != 0;
        boolean aux = outputBuffer != null && outputBuffer.aux() && (ctr() & CTR_AUXINT) != 0;
        if (kbd != keyboardIrqLevel) {
            keyboardIrqLevel = kbd;
            keyboardIrq.set(kbd);
        }
        if (aux != auxIrqLevel) {
            auxIrqLevel = aux;
            auxIrq.set(aux);
        }
    }

    /**
     * The PS/2 keyboard behind the controller ([IBM-KBD] "Commands from the System" and
     * "Commands to the System"). Not thread-safe on its own: only touched under the controller's
     * lock.
     */
    private static final class Keyboard {
        static final int ACK = 0xfa;
        static final int RESEND = 0xfe;
        static final int BAT_OK = 0xaa;
        static final int ECHO = 0xee;

        private final ArrayDeque<Integer> queue = new ArrayDeque<>();
        /** The command waiting for its argument byte (0xED, 0xF0, 0xF3), or -1. */
        private int awaitingArgument = -1;
        private boolean scanning = true;
        private int leds;
        private int scanCodeSet = 2;
        private int lastSent = -1;

        boolean hasOutput() {
            return !queue.isEmpty();
        }

        int takeOutput() {
            return queue.poll();
        }

        int hostInput(byte[] data, int off, int len) {
            if (!scanning) {
                return 0;
            }
            int accepted = 0;
            while (accepted < len && queue.size() < KEYBOARD_QUEUE) {
                send(data[off + accepted] & 0xff);
                accepted++;
            }
            return accepted;
        }

        private void send(int value) {
            queue.add(value);
            if (value != RESEND) {
                lastSent = value;
            }
        }

        /** A reply to a command from the system: it replaces anything not yet read. */
        private void respond(int... values) {
            queue.clear();
            for (int v : values) {
                send(v);
            }
        }

        void command(int value) {
            if (awaitingArgument >= 0) {
                int cmd = awaitingArgument;
                awaitingArgument = -1;
                // Every valid argument is below 0xED; a command byte instead of the argument
                // abandons the pending command and is executed itself.
                if (value < 0xed) {
                    argument(cmd, value);
                    return;
                }
            }
            switch (value) {
                case 0xed, 0xf3, 0xf0 -> {
                    awaitingArgument = value;
                    respond(ACK);
                }
                case 0xee -> respond(ECHO);
                // Identify: ACK then the MF2 keyboard ID bytes AB 83 ([IBM-KBD] F2).
                case 0xf2 -> respond(ACK, 0xab, 0x83);
                case 0xf4 -> {
                    scanning = true;
                    respond(ACK);
                }
                case 0xf5 -> {
                    setDefaults();
                    scanning = false;
                    respond(ACK);
                }
                case 0xf6 -> {
                    setDefaults();
                    scanning = true;
                    respond(ACK);
                }
                case 0xfe -> {
                    int again = lastSent;
                    queue.clear();
                    if (again >= 0) {
                        send(again);
                    }
                }
                case 0xff -> {
                    // Reset: ACK, then the basic assurance test passes ([IBM-KBD] FF).
                    setDefaults();
                    scanning = true;
                    leds = 0;
                    respond(ACK, BAT_OK);
                }
                default -> respond(RESEND);
            }
        }

        private void argument(int cmd, int value) {
            switch (cmd) {
                case 0xed -> {
                    leds = value & 0x07;
                    respond(ACK);
                }
                case 0xf3 -> {
                    // Typematic rate/delay: acknowledged; key repeat is the host's business, the
                    // host pushes repeated make codes itself.
                    respond(ACK);
                }
                case 0xf0 -> {
                    if (value == 0) {
                        respond(ACK, scanCodeSet);
                    } else if (value <= 3) {
                        scanCodeSet = value;
                        respond(ACK);
                    } else {
                        respond(RESEND);
                    }
                }
                default -> throw new AssertionError(cmd);
            }
        }

        private void setDefaults() {
            scanCodeSet = 2;
            awaitingArgument = -1;
        }
    }
}
