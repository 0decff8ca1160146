package dev.ristretto.devices.pci;

/** The machine's PCI windows cannot hold what its devices ask for: a setup error, one sentence. */
public final class PciResourceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public PciResourceException(String message) {
        super(message);
    }
}
