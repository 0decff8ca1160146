package dev.ristretto.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.check.HostCheck;
import dev.ristretto.vmm.check.HostFacts;
import dev.ristretto.vmm.check.HostProbe;
import dev.ristretto.vmm.check.VirtualizationKind;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

/**
 * {@code ristretto check} on this host, through picocli. On this project's PVM machines it must
 * say KVM present, software-emulated (PVM), unmodified guests cannot run natively, and exit 1.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CheckCommandIT {

    @Test
    void thisHost() {
        HostFacts facts = HostProbe.gather(System.getProperty("ristretto.kvm.device", "/dev/kvm"));
        Assumptions.assumeTrue(facts.kvm().state() == HostFacts.KvmDeviceState.OPEN,
                () -> "KVM unavailable: " + facts.kvm().message());
        StringWriter out = new StringWriter();
        CommandLine cl = new CommandLine(new CheckCommandTest.Parent(), new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> cls) throws Exception {
                return cls == CheckCommand.class ? cls.cast(new CheckCommand(() -> facts))
                        : CommandLine.defaultFactory().create(cls);
            }
        });
        int code = Main.configure(cl, new PrintWriter(out, true), new PrintWriter(new StringWriter(), true))
                .execute("check");
        String text = out.toString();
        assertTrue(text.startsWith("ok    /dev/kvm "), text);
        assertTrue(text.contains("\nok    KVM API version "), text);
        if (VirtualizationKind.of(facts.cpu()) == VirtualizationKind.SOFTWARE_PVM) {
            assertEquals(1, code, text);
            assertTrue(text.contains("software-emulated (PVM)"), text);
            assertTrue(text.contains("\nFAIL  unmodified guests ") && text.contains("cannot run natively"), text);
            assertTrue(text.strip().endsWith("this host's KVM is software-emulated (PVM), so unmodified guests cannot"
                    + " run natively"), text);
        } else {
            assertEquals(HostCheck.evaluate(facts).exitCode(), code, text);
        }
    }
}
