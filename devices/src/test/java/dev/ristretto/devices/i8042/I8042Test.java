package dev.ristretto.devices.i8042;

import static dev.ristretto.devices.i8042.I8042.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.device.IrqLine;
import dev.ristretto.vmm.device.PowerControl;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class I8042Test {

    static final class RecordingIrq implements IrqLine {
        final List<Boolean> transitions = new ArrayList<>();

        @Override
        public void set(boolean asserted) {
            transitions.add(asserted);
        }

        boolean level() {
            return !transitions.isEmpty() && transitions.getLast();
        }

        long risingEdges() {
            return transitions.stream().filter(b -> b).count();
        }
    }

    static final class RecordingPower implements PowerControl {
        final List<String> resets = new ArrayList<>();
        final List<String> powerOffs = new ArrayList<>();

        @Override
        public void requestReset(String source) {
            resets.add(source);
        }

        @Override
        public void requestPowerOff(String source) {
            powerOffs.add(source);
        }
    }

    private RecordingIrq irq1;
    private RecordingIrq irq12;
    private RecordingPower power;
    private I8042 kbc;

    @BeforeEach
    void setUp() {
        irq1 = new RecordingIrq();
        irq12 = new RecordingIrq();
        power = new RecordingPower();
        kbc = new I8042(irq1, irq12, power);
    }

    private int status() {
        byte[] b = new byte[1];
        kbc.commandPort().read(0, b);
        return b[0] & 0xff;
    }

    private int data() {
        byte[] b = new byte[1];
        kbc.dataPort().read(0, b);
        return b[0] & 0xff;
    }

    private void command(int cmd) {
        kbc.commandPort().write(0, new byte[] {(byte) cmd});
    }

    private void writeData(int value) {
        kbc.dataPort().write(0, new byte[] {(byte) value});
    }

    /** i8042_wait_read + i8042_read_data: OBF must already be set (we answer at once). */
    private int readReply() {
        assertEquals(STR_OBF, status() & STR_OBF, "OBF set for a reply");
        return data();
    }

    /** Linux's i8042_flush: read while OBF, giving up after I8042_BUFFER_SIZE (16) bytes. */
    private int flush() {
        int count = 0;
        while ((status() & STR_OBF) != 0) {
            if (count++ >= 16) {
                break;
            }
            data();
        }
        return count;
    }

    private int readCtr() {
        command(0x20);
        return readReply();
    }

    private void writeCtr(int ctr) {
        command(0x60);
        writeData(ctr);
    }

    @Test
    void selfTestAnswers55AndSetsTheSystemFlag() {
        command(0xaa);
        assertEquals(0x55, readReply());
        assertEquals(STR_SYS, status() & STR_SYS);
        assertEquals(0, status() & STR_OBF);
    }

    @Test
    void interfaceTestsAnswerZero() {
        command(0xab);
        assertEquals(0x00, readReply());
        command(0xa9);
        assertEquals(0x00, readReply());
    }

    @Test
    void commandByteRoundTripsAndDrivesStatusAndInterfaceBits() {
        assertEquals(DEFAULT_CTR, readCtr());
        writeCtr(0x47);
        assertEquals(0x47, readCtr());
        writeCtr(0x00);
        assertEquals(0, status() & STR_SYS, "status SYS mirrors command byte bit 2");
        command(0xad);
        assertEquals(CTR_KBDDIS, readCtr());
        command(0xae);
        command(0xa7);
        assertEquals(CTR_AUXDIS, readCtr());
        command(0xa8);
        assertEquals(0, readCtr());
    }

    @Test
    void statusA2BitTracksWhichPortWasWrittenLast() {
        command(0xab);
        assertEquals(STR_CMD, status() & STR_CMD);
        data();
        writeData(0xee);
        assertEquals(0, status() & STR_CMD);
        assertEquals(0, status() & STR_IBF, "input is consumed at once");
        assertEquals(STR_UNLOCKED, status() & STR_UNLOCKED, "keyboard not inhibited");
    }

    @Test
    void keyboardResetAnswersAckThenBatPassed() {
        writeData(0xff);
        assertEquals(0xfa, readReply());
        assertEquals(0xaa, readReply());
        assertEquals(0, status() & STR_OBF);
    }

    @Test
    void keyboardCommandsAndTheirArguments() {
        writeData(0xf2);
        assertEquals(0xfa, readReply());
        assertEquals(0xab, readReply());
        assertEquals(0x83, readReply());
        writeData(0xed);
        assertEquals(0xfa, readReply());
        writeData(0x04);
        assertEquals(0xfa, readReply());
        assertEquals(0x04, kbc.keyboardLeds());
        writeData(0xf3);
        assertEquals(0xfa, readReply());
        writeData(0x20);
        assertEquals(0xfa, readReply());
        writeData(0xee);
        assertEquals(0xee, readReply());
        writeData(0xf0);
        assertEquals(0xfa, readReply());
        writeData(0x00);
        assertEquals(0xfa, readReply());
        assertEquals(0x02, readReply(), "scan code set 2");
        writeData(0xf4);
        assertEquals(0xfa, readReply());
        writeData(0xf6);
        assertEquals(0xfa, readReply());
        writeData(0x42); // not a keyboard command
        assertEquals(0xfe, readReply());
    }

    @Test
    void commandInsteadOfArgumentIsExecuted() {
        writeData(0xed);
        assertEquals(0xfa, readReply());
        writeData(0xee); // echo, not an LED value
        assertEquals(0xee, readReply());
        assertEquals(0, kbc.keyboardLeds());
    }

    @Test
    void disabledScanningDropsHostKeysAndEnableRestoresThem() {
        byte[] key = {0x1c, (byte) 0xf0, 0x1c}; // 'A' make and break in set 2
        writeData(0xf5);
        assertEquals(0xfa, readReply());
        assertEquals(0, kbc.pushKeyboardBytes(key, 0, key.length));
        writeData(0xf4);
        assertEquals(0xfa, readReply());
        assertEquals(3, kbc.pushKeyboardBytes(key, 0, key.length));
        assertEquals(0x1c, readReply());
        assertEquals(0xf0, readReply());
        assertEquals(0x1c, readReply());
    }

    @Test
    void keyboardBufferHoldsSixteenBytes() {
        byte[] many = new byte[40];
        assertEquals(KEYBOARD_QUEUE, kbc.pushKeyboardBytes(many, 0, many.length));
        int n = 0;
        while ((status() & STR_OBF) != 0) {
            data();
            n++;
        }
        assertEquals(KEYBOARD_QUEUE, n);
        assertEquals(5, kbc.pushKeyboardBytes(many, 0, 5));
    }

    @Test
    void keyboardDataWaitsWhileTheInterfaceIsDisabled() {
        command(0xad);
        kbc.pushKeyboardBytes(new byte[] {0x1c}, 0, 1);
        assertEquals(0, status() & STR_OBF);
        command(0xae);
        assertEquals(0x1c, readReply());
    }

    @Test
    void everyKeyboardByteGetsItsOwnIrq1Edge() {
        writeCtr(CTR_KBDINT);
        writeData(0xf2);
        assertTrue(irq1.level());
        data();
        data();
        data();
        assertEquals(List.of(true, false, true, false, true, false), irq1.transitions);
        assertTrue(irq12.transitions.isEmpty());
    }

    @Test
    void irq1FollowsTheCommandByteEnable() {
        writeCtr(0);
        writeData(0xee);
        assertFalse(irq1.level());
        writeCtr(CTR_KBDINT);
        assertTrue(irq1.level());
        data();
        assertFalse(irq1.level());
    }

    @Test
    void auxLoopbackEchoesAsAuxDataOnIrq12() {
        writeCtr(CTR_AUXINT);
        command(0xd3);
        writeData(0xa5);
        assertEquals(STR_OBF | STR_AUXDATA, status() & (STR_OBF | STR_AUXDATA));
        assertTrue(irq12.level());
        assertFalse(irq1.level());
        assertEquals(0xa5, data());
        assertFalse(irq12.level());
    }

    @Test
    void bytesToTheAbsentMouseTimeOut() {
        command(0xd4);
        writeData(0xff); // PS/2 mouse reset
        int st = status();
        assertEquals(STR_OBF | STR_AUXDATA | STR_TIMEOUT, st & (STR_OBF | STR_AUXDATA | STR_TIMEOUT));
        assertEquals(0xfe, data());
        assertEquals(0, status() & STR_TIMEOUT, "time-out belongs to that byte");
    }

    @Test
    void d2WritesAppearAsKeyboardData() {
        command(0xd2);
        writeData(0x55);
        assertEquals(0, status() & STR_AUXDATA);
        assertEquals(0x55, readReply());
    }

    @Test
    void pulseResetCommandReachesPowerControl() {
        command(0xfe);
        assertEquals(List.of("i8042"), power.resets);
        command(0xff); // pulses nothing
        command(0xf1); // bit 0 set: does not pulse reset
        assertEquals(1, power.resets.size());
        command(0xf0); // bit 0 clear pulses reset too
        assertEquals(2, power.resets.size());
        assertTrue(power.powerOffs.isEmpty());
    }

    @Test
    void writingOutputPortWithBit0ClearResets() {
        command(0xd0);
        assertEquals(DEFAULT_OUTPUT_PORT, readReply());
        command(0xd1);
        writeData(0xdf); // Linux's A20 enable through the KBC: bit 0 set, no reset
        assertTrue(power.resets.isEmpty());
        command(0xd1);
        writeData(0xfe);
        assertEquals(List.of("i8042"), power.resets);
        command(0xd0);
        assertEquals(OUT_RESET, readReply() & OUT_RESET, "the reset line is released again");
    }

    @Test
    void outputPortReportsTheObfLines() {
        command(0xd3);
        writeData(0x11);
        command(0xd0); // the aux byte is still in the output buffer, the reply queues behind it
        assertEquals(0x11, data());
        assertEquals(OUT_AUX_OBF, readReply() & (OUT_KBD_OBF | OUT_AUX_OBF));
        command(0xd0);
        assertEquals(0, readReply() & (OUT_KBD_OBF | OUT_AUX_OBF), "buffer was empty");
        kbc.pushKeyboardBytes(new byte[] {0x1c}, 0, 1);
        command(0xd0);
        assertEquals(0x1c, data());
        assertEquals(OUT_KBD_OBF, readReply() & (OUT_KBD_OBF | OUT_AUX_OBF));
    }

    @Test
    void internalRamIsReadableAndWritable() {
        command(0x65);
        writeData(0x99);
        command(0x25);
        assertEquals(0x99, readReply());
        command(0xc0);
        assertEquals(INPUT_PORT, readReply());
    }

    @Test
    void unknownControllerCommandsAreCountedAndIgnored() {
        command(0xe0);
        command(0xc1);
        assertEquals(2, kbc.ignoredCommands());
        assertEquals(0, status() & STR_OBF);
    }

    @Test
    void unreadRepliesAreBoundedAndCounted() {
        for (int i = 0; i < 100; i++) {
            command(0x20);
        }
        // One reply sits in the output buffer, CONTROLLER_QUEUE wait behind it.
        assertEquals(100 - 1 - CONTROLLER_QUEUE, kbc.droppedReplies());
        int n = 0;
        while ((status() & STR_OBF) != 0) {
            assertEquals(DEFAULT_CTR, data());
            n++;
        }
        assertEquals(1 + CONTROLLER_QUEUE, n);
    }

    @Test
    void readsPastTheSinglePortAreAllOnes() {
        byte[] b = new byte[2];
        kbc.commandPort().read(0, b);
        assertEquals((byte) 0xff, b[1]);
    }

    /**
     * The accesses Linux's i8042 driver makes at probe (drivers/input/serio/i8042.c, in call
     * order: i8042_controller_check, i8042_controller_selftest, i8042_controller_init,
     * i8042_check_mux → i8042_set_mux_mode, i8042_check_aux → i8042_toggle_aux and the AUX IRQ
     * delivery test, i8042_enable_kbd_port, then atkbd's GETID through i8042_kbd_write and
     * psmouse's first command through i8042_aux_write), with the replies the driver checks.
     * __i8042_command requires STR_AUXDATA on every byte read back from I8042_CMD_AUX_LOOP.
     */
    @Test
    void linuxProbeSequence() {
        // i8042_controller_check: a flush that drains 16 bytes means "No controller found".
        assertEquals(0, flush());

        // i8042_controller_selftest: I8042_CMD_CTL_TEST (0xAA) must return I8042_RET_CTL_TEST.
        command(0xaa);
        assertEquals(0x55, readReply());

        // i8042_controller_init: read the CTR until two reads agree, check the keylock bit,
        // disable the keyboard port, keep translation off when the firmware left it off.
        int ctr = readCtr();
        assertEquals(ctr, readCtr());
        assertEquals(STR_UNLOCKED, status() & STR_UNLOCKED, "else 'Warning: Keylock active'");
        assertEquals(0, ctr & CTR_XLATE, "untranslated: Linux sets i8042_direct");
        ctr = (ctr | CTR_KBDDIS) & ~CTR_KBDINT;
        writeCtr(ctr);
        assertEquals(ctr, readCtr());

        // i8042_check_mux / i8042_set_mux_mode(1): loop F0, 56, A4; a MUX controller would
        // answer the last with its version instead of A4. Ours echoes: no MUX, legacy AUX.
        assertEquals(0, flush());
        for (int b : new int[] {0xf0, 0x56, 0xa4}) {
            command(0xd3);
            writeData(b);
            assertEquals(STR_AUXDATA, status() & STR_AUXDATA);
            assertEquals(b, readReply());
        }

        // i8042_check_aux: AUX_LOOP 0x5A must come back as 0x5A with AUXDATA set.
        assertEquals(0, flush());
        command(0xd3);
        writeData(0x5a);
        assertEquals(STR_AUXDATA, status() & STR_AUXDATA);
        assertEquals(0x5a, readReply());
        // i8042_toggle_aux(0) then (1): the AUXDIS bit must follow within the polling loop.
        command(0xa7);
        assertEquals(CTR_AUXDIS, readCtr() & CTR_AUXDIS);
        command(0xa8);
        assertEquals(0, readCtr() & CTR_AUXDIS);
        // i8042_enable_aux_port, then the IRQ delivery test: AUX_LOOP 0xA5 with no read-back;
        // the driver waits up to 250 ms for IRQ 12 carrying 0xA5 with AUXDATA.
        ctr = (ctr & ~CTR_AUXDIS) | CTR_AUXINT;
        writeCtr(ctr);
        long edges = irq12.risingEdges();
        command(0xd3);
        writeData(0xa5);
        assertEquals(edges + 1, irq12.risingEdges(), "IRQ 12 delivered");
        int st = status();
        assertEquals(STR_OBF | STR_AUXDATA, st & (STR_OBF | STR_AUXDATA));
        assertEquals(0xa5, data());
        // ... and disables the AUX port again.
        ctr = (ctr | CTR_AUXDIS) & ~CTR_AUXINT;
        writeCtr(ctr);

        // i8042_enable_kbd_port.
        ctr = (ctr & ~CTR_KBDDIS) | CTR_KBDINT;
        writeCtr(ctr);
        assertEquals(ctr, readCtr());

        // atkbd_probe: ATKBD_CMD_GETID through i8042_kbd_write; replies arrive on IRQ 1, one
        // byte per interrupt, and the first ID byte must be a keyboard ID (0xAB).
        long kbdEdges = irq1.risingEdges();
        writeData(0xf2);
        int[] expected = {0xfa, 0xab, 0x83};
        for (int e : expected) {
            assertTrue(irq1.level(), "IRQ 1 pending for 0x" + Integer.toHexString(e));
            assertEquals(0, status() & STR_AUXDATA);
            assertEquals(e, data());
        }
        assertEquals(kbdEdges + 3, irq1.risingEdges());
        // atkbd_activate: set typematic rate, enable scanning.
        writeData(0xf3);
        assertEquals(0xfa, data());
        writeData(0x00);
        assertEquals(0xfa, data());
        writeData(0xf4);
        assertEquals(0xfa, data());

        // psmouse through the AUX port (registered because check_aux passed): the first
        // command times out at the controller, which psmouse reports as "no device".
        ctr = (ctr & ~CTR_AUXDIS) | CTR_AUXINT;
        writeCtr(ctr);
        command(0xd4);
        writeData(0xf2);
        assertTrue(irq12.level());
        assertEquals(STR_AUXDATA | STR_TIMEOUT, status() & (STR_AUXDATA | STR_TIMEOUT));
        assertEquals(0xfe, data());
        assertFalse(irq12.level());
        assertEquals(0, kbc.ignoredCommands());
    }

    /** Linux's reboot=k (arch/x86/kernel/reboot.c): wait for IBF clear, then write 0xFE. */
    @Test
    void linuxKeyboardControllerReboot() {
        for (int attempt = 0; attempt < 10 && power.resets.isEmpty(); attempt++) {
            assertEquals(0, status() & STR_IBF, "kb_wait would spin");
            command(0xfe);
        }
        assertEquals(List.of("i8042"), power.resets);
    }
}
