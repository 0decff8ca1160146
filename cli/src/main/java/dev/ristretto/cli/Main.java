package dev.ristretto.cli;

import dev.ristretto.machine.SetupException;
import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * Entry point. Exit codes: 0 the guest powered off or rebooted; 1 a runtime failure (the host, KVM,
 * or the guest crashed); 2 a usage error (bad option, bad file, bad value). User mistakes get one
 * sentence on stderr; only Ristretto's own bugs print a stack trace.
 */
public final class Main {
    public static final int EXIT_RUNTIME = 1;
    public static final int EXIT_USAGE = 2;

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line with the given streams; returns the exit code. */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        return configure(new CommandLine(new RistrettoCommand()), out, err).execute(args);
    }

    /** Installs the streams and Ristretto's error handling (exit codes, no traces for user errors). */
    static CommandLine configure(CommandLine cl, PrintWriter out, PrintWriter err) {
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler((ex, a) -> {
            err.println("ristretto: " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, err);
            err.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help' for more information.");
            return EXIT_USAGE;
        });
        cl.setExecutionExceptionHandler((ex, c, parseResult) -> {
            if (ex instanceof SetupException se) {
                err.println("ristretto: " + se.getMessage());
                return se.kind() == SetupException.Kind.USAGE ? EXIT_USAGE : EXIT_RUNTIME;
            }
            err.println("ristretto: internal error (this is a bug in Ristretto; please report it with the trace below)");
            ex.printStackTrace(err);
            return EXIT_RUNTIME;
        });
        return cl;
    }
}
