package dev.ristretto.devices.i8042;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Random guest traffic on both ports plus host key input. After every step nothing threw, each
 * IRQ line only ever toggles (a repeated level would be a lost edge or a spurious call), and an
 * asserted line agrees with the status register: IRQ 1 means a keyboard byte is waiting, IRQ 12
 * an auxiliary one.
 */
class I8042PropertyTest {

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 0x60, 0x64, 8042})
    void randomTrafficKeepsIrqsConsistentWithStatus(long seed) {
        Random rnd = new Random(seed);
        I8042Test.RecordingIrq irq1 = new I8042Test.RecordingIrq();
        I8042Test.RecordingIrq irq12 = new I8042Test.RecordingIrq();
        I8042Test.RecordingPower power = new I8042Test.RecordingPower();
        I8042 kbc = new I8042(irq1, irq12, power);
        byte[] one = new byte[1];
        for (int step = 0; step < 20_000; step++) {
            int op = rnd.nextInt(6);
            int value = rnd.nextInt(256);
            switch (op) {
                case 0 -> kbc.commandPort().write(0, new byte[] {(byte) value});
                case 1 -> kbc.dataPort().write(0, new byte[] {(byte) value});
                case 2, 3 -> kbc.dataPort().read(0, one);
                case 4 -> kbc.commandPort().read(0, one);
                default -> {
                    byte[] keys = new byte[rnd.nextInt(20)];
                    rnd.nextBytes(keys);
                    int accepted = kbc.pushKeyboardBytes(keys, 0, keys.length);
                    assertTrue(accepted >= 0 && accepted <= keys.length);
                }
            }
            String where = "seed " + seed + " step " + step + " op " + op + " value 0x"
                    + Integer.toHexString(value);
            assertToggles(irq1.transitions, where);
            assertToggles(irq12.transitions, where);
            kbc.commandPort().read(0, one);
            int status = one[0] & 0xff;
            if (irq1.level()) {
                assertEquals(I8042.STR_OBF, status & (I8042.STR_OBF | I8042.STR_AUXDATA), where);
            }
            if (irq12.level()) {
                int both = I8042.STR_OBF | I8042.STR_AUXDATA;
                assertEquals(both, status & both, where);
            }
            assertEquals(0, status & I8042.STR_IBF, where);
        }
        assertTrue(power.powerOffs.isEmpty());
        for (List<Boolean> t : List.of(irq1.transitions, irq12.transitions)) {
            for (int i = 1; i < t.size(); i++) {
                assertNotEquals(t.get(i - 1), t.get(i), "seed " + seed + " transition " + i);
            }
        }
    }

    private static void assertToggles(List<Boolean> transitions, String where) {
        // Checked in full each step would be quadratic; the last pair suffices because every
        // earlier pair was the last pair of some earlier step or is checked at the end.
        int n = transitions.size();
        if (n >= 1 && n <= 2) {
            assertTrue(transitions.getFirst(), where + ": first transition must raise the line");
        }
        if (n >= 2) {
            assertNotEquals(transitions.get(n - 2), transitions.get(n - 1), where);
        }
    }
}
