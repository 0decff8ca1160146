package dev.ristretto.devices.acpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.device.PowerControl;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AcpiPowerDeviceTest {

    private static final int S5 = 5;
    private static final int RESET_VALUE = 0x0f;
    private static final int BASE = AcpiPowerDevice.SUGGESTED_BASE;

    /** Records every request in order, as "poweroff:acpi" / "reset:acpi". */
    private static final class RecordingPower implements PowerControl {
        final List<String> requests = new ArrayList<>();

        @Override
        public void requestReset(String source) {
            requests.add("reset:" + source);
        }

        @Override
        public void requestPowerOff(String source) {
            requests.add("poweroff:" + source);
        }
    }

    private RecordingPower power;
    private AcpiPowerDevice device;
    private Bus bus;

    @BeforeEach
    void setUp() {
        power = new RecordingPower();
        device = new AcpiPowerDevice(power, S5, RESET_VALUE);
        bus = Bus.builder("io").insert(BASE, AcpiPowerDevice.PORT_COUNT, "acpi-power", device)
                .build();
    }

    private void out(int port, int value) {
        bus.write(port, new byte[] {(byte) value});
    }

    private int in(int port) {
        byte[] b = new byte[1];
        bus.read(port, b);
        return b[0] & 0xff;
    }

    @Test
    void linuxPowerOffSequence() {
        // ACPICA acpi_hw_extended_sleep: clear WAK_STS, then SLP_TYP << 2 | SLP_EN.
        out(BASE + 1, 0x80);
        out(BASE, (S5 << 2) | 0x20);
        assertEquals(List.of("poweroff:acpi"), power.requests);
        assertEquals(0, device.ignoredAccesses());
    }

    @Test
    void sleepTypeWithoutSlpEnDoesNothing() {
        out(BASE, S5 << 2);
        assertEquals(List.of(), power.requests);
        assertEquals(0, in(BASE + 1));
    }

    @Test
    void unsupportedSleepStateWakesAtOnceAndWakStsClearsOnWriteOne() {
        out(BASE + 1, 0x80);
        out(BASE, (3 << 2) | 0x20); // an S3 request we do not offer
        assertEquals(List.of(), power.requests);
        assertEquals(0x80, in(BASE + 1), "WAK_STS set so a polling guest resumes");
        assertEquals(1, device.ignoredAccesses());
        out(BASE + 1, 0x00); // writing 0 leaves it
        assertEquals(0x80, in(BASE + 1));
        out(BASE + 1, 0x80); // write-1-to-clear
        assertEquals(0, in(BASE + 1));
    }

    @Test
    void resetValueResets() {
        out(BASE + 2, RESET_VALUE);
        assertEquals(List.of("reset:acpi"), power.requests);
    }

    @Test
    void otherResetValuesAreIgnoredAndCounted() {
        out(BASE + 2, 0x06);
        assertEquals(List.of(), power.requests);
        assertEquals(1, device.ignoredAccesses());
    }

    @Test
    void writeOnlyRegistersReadZero() {
        out(BASE, S5 << 2);
        assertEquals(0, in(BASE));
        assertEquals(0, in(BASE + 2));
    }

    @Test
    void wideAccessesAreIgnoredAndCounted() {
        bus.write(BASE, new byte[] {(byte) ((S5 << 2) | 0x20), 0});
        assertEquals(List.of(), power.requests);
        byte[] wide = {1, 2};
        bus.read(BASE + 1, wide);
        assertEquals(0, wide[0]);
        assertEquals(0, wide[1]);
        assertEquals(2, device.ignoredAccesses());
    }

    @Test
    void constructorChecksItsValues() {
        assertThrows(IllegalArgumentException.class, () -> new AcpiPowerDevice(power, 8, 1));
        assertThrows(IllegalArgumentException.class, () -> new AcpiPowerDevice(power, 5, 256));
    }
}
