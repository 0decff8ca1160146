package dev.ristretto.devices.pci;

/**
 * Where a device's MSI-X messages go: the seam between pure device models and the machine. The
 * machine implements it with KVM_SIGNAL_MSI, or with an irqfd per vector whose GSI route
 * (KVM_SET_GSI_ROUTING) carries {@code message}; tests record the calls.
 *
 * <p>Called only for vectors that are enabled and unmasked; masking and pending bits are
 * handled in {@link MsixCapability}. May be called from any thread that completes device work.
 */
@FunctionalInterface
public interface MsiSink {

    /** Sends {@code message}, the current table entry of {@code vector}. */
    void signal(int vector, MsiMessage message);

    /**
     * The guest rewrote table entry {@code vector}'s address or data. A machine that pre-routes
     * each vector to a GSI (irqfd) updates that route here, before the next {@link #signal};
     * one that sends each message on its own (KVM_SIGNAL_MSI) needs nothing. Called outside
     * the capability's lock, on the vCPU thread that wrote the table.
     */
    default void messageChanged(int vector, MsiMessage message) {
    }

    /** A sink connected to nothing. */
    MsiSink NONE = (vector, message) -> { };
}
