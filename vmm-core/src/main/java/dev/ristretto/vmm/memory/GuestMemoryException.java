package dev.ristretto.vmm.memory;

/** A guest-physical access that does not lie entirely inside one region of guest RAM. */
public final class GuestMemoryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public GuestMemoryException(String message) {
        super(message);
    }
}
