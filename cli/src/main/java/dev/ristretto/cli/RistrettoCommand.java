package dev.ristretto.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;

/** {@code ristretto}: the top-level command; the work is in its subcommands. */
@Command(name = "ristretto",
        mixinStandardHelpOptions = true,
        versionProvider = RistrettoCommand.Version.class,
        description = "A virtual machine monitor for Linux KVM, written in Java.",
        subcommands = {RunCommand.class, CheckCommand.class},
        synopsisSubcommandLabel = "COMMAND")
public final class RistrettoCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "a command is required (e.g. run)");
    }

    /** The version Maven wrote into version.properties at build time. */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = RistrettoCommand.class.getResourceAsStream("version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            }
            return new String[] {
                "ristretto " + p.getProperty("version", "unknown"),
                "Java " + Runtime.version() + " (" + System.getProperty("java.vm.vendor") + ")",
            };
        }
    }
}
