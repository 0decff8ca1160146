package dev.ristretto.firmware.mptable;

/** An MP table input the Intel MultiProcessor Specification 1.4 cannot express. */
public final class MpTableException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public MpTableException(String message) {
        super(message);
    }
}
