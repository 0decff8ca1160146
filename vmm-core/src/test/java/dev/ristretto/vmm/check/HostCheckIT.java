package dev.ristretto.vmm.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.check.HostFacts.KvmDeviceState;
import dev.ristretto.vmm.kvm.Kvm;
import dev.ristretto.vmm.kvm.KvmTestSupport;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The real check on this host. On this project's PVM machines it must say: KVM present,
 * software-emulated (PVM), unmodified guests cannot run natively, exit code 1. On a hardware or
 * nested host the same probe must find native execution.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HostCheckIT {

    @Test
    void theProbeMatchesTheVirtualizationKind() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            NativeProbe.Result r = NativeProbe.run(kvm);
            HostFacts facts = HostProbe.gather(System.getProperty("ristretto.kvm.device", Kvm.DEVICE));
            switch (VirtualizationKind.of(facts.cpu())) {
                case SOFTWARE_PVM -> assertEquals(NativeProbe.Outcome.EMULATION_ONLY, r.outcome(), r.detail());
                case HARDWARE, NESTED -> assertEquals(NativeProbe.Outcome.NATIVE, r.outcome(), r.detail());
                case NONE -> Assumptions.abort("/dev/kvm opens but neither vmx/svm nor kvm_pvm is visible: " + r);
            }
        }
    }

    @Test
    void thisHostsReport() {
        KvmTestSupport.openOrSkip().close();
        HostFacts facts = HostProbe.gather(System.getProperty("ristretto.kvm.device", Kvm.DEVICE));
        CheckReport report = HostCheck.evaluate(facts);
        assertEquals(KvmDeviceState.OPEN, facts.kvm().state(), report.toText());
        assertEquals(12, facts.apiVersion().orElseThrow());
        assertTrue(facts.maxVcpus().orElseThrow() >= 1);
        if (report.virtualization() == VirtualizationKind.SOFTWARE_PVM) {
            assertEquals(NativeProbe.Outcome.EMULATION_ONLY, report.nativeGuests(), report.toText());
            assertFalse(report.canBootLinux());
            assertEquals(1, report.exitCode());
            String text = report.toText();
            assertTrue(text.contains("software-emulated (PVM)"), text);
            assertTrue(text.contains("unmodified guests"), text);
            assertTrue(text.contains("cannot run natively"), text);
            assertTrue(report.reason().contains("software-emulated (PVM), so unmodified guests cannot run natively"),
                    report.reason());
        } else {
            assertEquals(NativeProbe.Outcome.NATIVE, report.nativeGuests(), report.toText());
        }
    }
}
