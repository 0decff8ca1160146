package dev.ristretto.vmm.device;

/**
 * What a device asks of the machine when the guest resets or powers off (i8042 pulse-reset line,
 * ACPI sleep and reset registers). The machine decides what that means (exit, or boot again).
 */
public interface PowerControl {

    void requestReset(String source);

    void requestPowerOff(String source);

    /** A control that ignores every request (tests, devices used without a machine). */
    PowerControl NONE = new PowerControl() {
        @Override
        public void requestReset(String source) {
        }

        @Override
        public void requestPowerOff(String source) {
        }
    };
}
