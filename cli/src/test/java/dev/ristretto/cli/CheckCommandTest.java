package dev.ristretto.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.check.HostFacts;
import dev.ristretto.vmm.check.NativeProbe;
import dev.ristretto.vmm.kvm.Capability;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ristretto check} with made-up host facts, under a local parent command like RistrettoCommand. */
class CheckCommandTest {
    final StringWriter out = new StringWriter();
    final StringWriter err = new StringWriter();

    @Command(name = "ristretto", subcommands = CheckCommand.class)
    static final class Parent implements Runnable {
        @Override
        public void run() {
        }
    }

    static HostFacts host(Set<String> flags, Set<String> modules, NativeProbe.Outcome probe) {
        Map<Capability, Boolean> caps = new EnumMap<>(Capability.class);
        for (Capability c : Capability.values()) {
            caps.put(c, true);
        }
        return new HostFacts(HostFacts.KvmAccess.open("/dev/kvm"), OptionalInt.of(12), caps, OptionalInt.of(710),
                new HostFacts.CpuInfo(flags, modules), new NativeProbe.Result(probe, "the probe said so"),
                new HostFacts.HugePages(0, 0, 2048, "always"), new HostFacts.TapAccess(true, "", true),
                Optional.of(Path.of("/usr/bin/passt")));
    }

    private int run(Supplier<HostFacts> facts, String... args) {
        CommandLine cl = new CommandLine(new Parent(), new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> cls) throws Exception {
                return cls == CheckCommand.class ? cls.cast(new CheckCommand(facts)) : CommandLine.defaultFactory().create(cls);
            }
        });
        return Main.configure(cl, new PrintWriter(out, true), new PrintWriter(err, true)).execute(args);
    }

    private String lastLine() {
        String[] lines = out.toString().split("\n");
        return lines[lines.length - 1];
    }

    @Test
    void aHardwareHostExitsZero() {
        assertEquals(0, run(() -> host(Set.of("vmx"), Set.of("kvm_intel"), NativeProbe.Outcome.NATIVE), "check"));
        assertEquals("Ristretto can boot a full Linux guest on this host", lastLine());
        assertTrue(out.toString().startsWith("ok    /dev/kvm "), out.toString());
        assertEquals("", err.toString());
    }

    @Test
    void aPvmHostExitsOneWithTheReasonLast() {
        assertEquals(1, run(() -> host(Set.of("hypervisor"), Set.of("kvm_pvm"), NativeProbe.Outcome.EMULATION_ONLY),
                "check"));
        assertEquals("Ristretto cannot boot a full Linux guest here: this host's KVM is software-emulated (PVM), so"
                + " unmodified guests cannot run natively", lastLine());
        assertTrue(out.toString().contains("\nFAIL  unmodified guests "), out.toString());
        assertTrue(out.toString().contains("\n      fix: run Ristretto on a host with VT-x/AMD-V"), out.toString());
    }

    @Test
    void jsonIsOneObjectWithTheVerdict() {
        assertEquals(1, run(() -> host(Set.of("hypervisor"), Set.of("kvm_pvm"), NativeProbe.Outcome.EMULATION_ONLY),
                "check", "--json"));
        String json = out.toString().strip();
        assertTrue(json.startsWith("{\"canBootLinux\":false,"), json);
        assertTrue(json.contains("\"virtualization\":\"software-pvm\""), json);
        assertTrue(json.endsWith("}]}"), json);
        assertEquals(1, json.lines().count(), "one line for scripts");
    }

    @Test
    void anUnknownOptionIsAUsageError() {
        assertEquals(Main.EXIT_USAGE, run(() -> {
            throw new AssertionError("must not probe the host");
        }, "check", "--jason"));
        assertTrue(err.toString().contains("Unknown option: '--jason'"), err.toString());
    }
}
