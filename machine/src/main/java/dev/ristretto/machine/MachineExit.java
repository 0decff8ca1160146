package dev.ristretto.machine;

/**
 * How a machine ended. {@code exitCode} is what the ristretto process returns: 0 for a guest
 * power-off or reboot (and a user quit), 1 for a failure. {@code message} says what happened in
 * one line; {@code detail} holds the multi-line diagnostic (registers, code bytes) when the guest
 * crashed, else empty.
 */
public record MachineExit(Reason reason, int exitCode, String message, String detail) {

    public enum Reason {
        /** The guest powered off (ACPI S5 or KVM system event). */
        POWER_OFF,
        /** The guest asked for a reset (i8042, ACPI reset register) and --on-reboot is exit. */
        REBOOT,
        /** The user pressed Ctrl-A x, or Ristretto was asked to stop. */
        STOPPED,
        /** The guest triple-faulted (KVM_EXIT_SHUTDOWN). */
        TRIPLE_FAULT,
        /** KVM could not run the guest (internal error, failed entry, unexpected exit). */
        VCPU_FAILURE,
    }

    /** True when the message is worth printing even though the exit code is 0. */
    public boolean reportOnExit() {
        return reason == Reason.STOPPED;
    }
}
