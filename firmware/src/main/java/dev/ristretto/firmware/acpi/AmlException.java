package dev.ristretto.firmware.acpi;

/**
 * An AML term could not be encoded because an input is outside what the AML grammar allows
 * (a name segment with a lower-case letter, a package with more than 255 elements, ...).
 */
public final class AmlException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public AmlException(String message) {
        super(message);
    }
}
