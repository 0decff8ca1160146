package dev.ristretto.devices.pci;

/**
 * A PCI function as the PCI root sees it: its configuration space and its BARs. Offsets are
 * from the start of configuration space (0-0xfff through ECAM; only 0-0xff exist for a
 * conventional function, the root answers the rest) and from the start of a BAR.
 *
 * <p>Implementations are pure state machines that synchronise their own state: configuration
 * cycles and BAR accesses come from any vCPU thread.
 */
public interface PciDevice {

    /** A short name for messages ("virtio-rng", "host-bridge"). */
    String name();

    /** A configuration read of {@code data.length} (1, 2 or 4) bytes at {@code offset} (below 256). */
    void readConfig(int offset, byte[] data);

    /** A configuration write at {@code offset} (below 256). */
    void writeConfig(int offset, byte[] data);

    /** The BARs this function declares (their sizes and kinds; addresses are in config space). */
    java.util.List<PciBar> bars();

    /** Where BAR {@code index} currently decodes; -1 while decoding is disabled or for no such BAR. */
    long barAddress(int index);

    /** Places BAR {@code index} at {@code address} before the guest runs (the firmware's job). */
    void setBarAddress(int index, long address);

    /** A read inside BAR {@code bar} at {@code offset}. */
    void readBar(int bar, long offset, byte[] data);

    /** A write inside BAR {@code bar} at {@code offset}. */
    void writeBar(int bar, long offset, byte[] data);
}
