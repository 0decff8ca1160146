package dev.ristretto.firmware.acpi;

/** An {@link AcpiConfig} value the tables cannot express; the message names the value and fix. */
public final class AcpiConfigException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public AcpiConfigException(String message) {
        super(message);
    }
}
