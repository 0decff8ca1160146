package dev.ristretto.vmm.vcpu;

import java.util.Objects;

/** What the run loop does after an exit: run the vCPU again, or stop it for a reason. */
public sealed interface ExitOutcome {

    /** Re-enter the guest. */
    record Continue() implements ExitOutcome {
    }

    Continue CONTINUE = new Continue();

    /** Stop this vCPU; {@code detail} is one line for a log or the user. */
    record Stop(Reason reason, String detail) implements ExitOutcome {
        public Stop {
            Objects.requireNonNull(reason);
            Objects.requireNonNull(detail);
        }
    }

    /** Why a vCPU stopped. */
    enum Reason {
        /** HLT reached userspace (only without the in-kernel LAPIC: test guests). */
        HALT,
        /** KVM_EXIT_SHUTDOWN: triple fault. */
        SHUTDOWN,
        /** The guest powered off (KVM_SYSTEM_EVENT_SHUTDOWN, e.g. PSCI/ACPI through KVM). */
        POWER_OFF,
        /** The guest asked for a reset (KVM_SYSTEM_EVENT_RESET). */
        RESET,
        /** The guest reported a crash (KVM_SYSTEM_EVENT_CRASH) or another system event. */
        SYSTEM_EVENT,
        /** KVM_EXIT_INTERNAL_ERROR, usually an instruction KVM's emulator cannot handle. */
        INTERNAL_ERROR,
        /** KVM_EXIT_FAIL_ENTRY: the hardware refused the guest state. */
        FAIL_ENTRY,
        /** KVM_EXIT_DEBUG although we never enable guest debugging. */
        DEBUG,
        /** An exit reason we do not handle. */
        UNKNOWN_EXIT,
        /** Our own failure in the run loop (an ioctl error or an exception from a device). */
        VMM_ERROR
    }
}
