package dev.ristretto.vmm.device;

/**
 * An interrupt line a device drives. For the in-kernel PIC/IOAPIC this becomes KVM_IRQ_LINE; in
 * tests it is a recorder. Level semantics: the device sets the line to what its state says.
 */
public interface IrqLine {

    /** Drives the line to {@code asserted}. */
    void set(boolean asserted);

    /** Raises and lowers the line: an edge for edge-triggered ISA interrupts. */
    default void pulse() {
        set(true);
        set(false);
    }

    /** A line connected to nothing. */
    IrqLine NONE = asserted -> { };
}
