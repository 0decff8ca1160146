package dev.ristretto.cli;

import dev.ristretto.vmm.check.CheckReport;
import dev.ristretto.vmm.check.HostCheck;
import dev.ristretto.vmm.check.HostFacts;
import dev.ristretto.vmm.check.HostProbe;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ristretto check}: what this host's KVM can do and how to fix what it cannot. The facts
 * come from {@link HostProbe} (which runs a tiny test guest); the verdict from {@link HostCheck}.
 */
@Command(name = "check",
        mixinStandardHelpOptions = true,
        versionProvider = RistrettoCommand.Version.class,
        description = {
            "Check whether this host can run Ristretto: /dev/kvm and its permissions, the KVM API version and",
            "capabilities, the virtualization kind (hardware, nested, or software-emulated PVM), whether",
            "unmodified guests run natively (found by running a tiny test guest), hugepages, TAP and passt.",
            "Each line says ok, warn, FAIL or skip, with the fix under it; the last line is the verdict."
        },
        footer = {
            "",
            "Exit status: 0 when Ristretto can boot a full Linux guest on this host, 1 when it cannot.",
        })
public final class CheckCommand implements Callable<Integer> {

    @Option(names = "--json", description = "Print the report as one JSON object instead.")
    boolean json;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    private final Supplier<HostFacts> facts;

    public CheckCommand() {
        this(HostProbe::gather);
    }

    /** For tests: made-up facts instead of this host's. */
    CheckCommand(Supplier<HostFacts> facts) {
        this.facts = facts;
    }

    @Override
    public Integer call() {
        CheckReport report = HostCheck.evaluate(facts.get());
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(report.toJson());
        } else {
            out.print(report.toText());
        }
        out.flush();
        return report.exitCode();
    }
}
