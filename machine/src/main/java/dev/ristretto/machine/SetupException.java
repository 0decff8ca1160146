package dev.ristretto.machine;

/**
 * A machine cannot be set up or keep running for a reason the user can act on. The message is
 * one sentence naming the thing and the fix; the CLI prints it without a stack trace.
 * {@link Kind#USAGE} errors are about what the user asked for (exit code 2); {@link Kind#HOST}
 * errors are about this host (exit code 1).
 */
public final class SetupException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public enum Kind { USAGE, HOST }

    private final Kind kind;

    public SetupException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public SetupException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public static SetupException usage(String message) {
        return new SetupException(Kind.USAGE, message);
    }

    public static SetupException host(String message) {
        return new SetupException(Kind.HOST, message);
    }

    public Kind kind() {
        return kind;
    }
}
