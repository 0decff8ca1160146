package dev.ristretto.tests.nested;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import org.junit.jupiter.api.Test;

class HostFactsTest {

    private static final String INTEL_CPUINFO = """
            processor\t: 0
            vendor_id\t: GenuineIntel
            flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr vmx smx est tm2 ssse3
            vmx flags\t: vnmi preemption_timer invvpid ept_x_only ept_ad
            bugs\t\t: spectre_v1

            processor\t: 1
            flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr vmx smx est tm2 ssse3
            """;

    private static final String PVM_GUEST_CPUINFO = """
            processor\t: 0
            vendor_id\t: AuthenticAMD
            flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep svm_lock_free nonstop_tsc hypervisor
            """;

    @Test
    void readsTheFlagWordsOfTheFirstFlagsLine() {
        Set<String> flags = HostFacts.cpuFlags(INTEL_CPUINFO);
        assertTrue(flags.contains("vmx"));
        assertTrue(flags.contains("ssse3"));
        assertFalse(flags.contains("vnmi"), "the 'vmx flags' line is not the 'flags' line");
    }

    @Test
    void matchesWholeFlagWordsOnly() {
        Set<String> flags = HostFacts.cpuFlags(PVM_GUEST_CPUINFO);
        assertFalse(flags.contains("svm"), "svm_lock_free is not svm");
    }

    @Test
    void noFlagsLineMeansNoFlags() {
        assertEquals(Set.of(), HostFacts.cpuFlags("processor\t: 0\n"));
    }

    @Test
    void hardwareFlagWithUsableDevKvmAndNoPvmRunsDirectly() {
        var facts = new HostFacts("Linux", "amd64", Set.of("fpu", "svm"), true, false);
        assertEquals(HostFacts.Kind.HARDWARE_KVM, facts.classify().kind());
        assertTrue(facts.classify().reason().contains("svm"), facts.classify().reason());
    }

    @Test
    void pvmModuleMeansL1EvenWhenTheCpuShowsVmx() {
        var facts = new HostFacts("Linux", "amd64", Set.of("vmx"), true, true);
        assertEquals(HostFacts.Kind.NEEDS_L1, facts.classify().kind());
        assertTrue(facts.classify().reason().contains("kvm_pvm"), facts.classify().reason());
    }

    @Test
    void noVmxOrSvmMeansL1() {
        var facts = new HostFacts("Linux", "x86_64", HostFacts.cpuFlags(PVM_GUEST_CPUINFO), true, false);
        assertEquals(HostFacts.Kind.NEEDS_L1, facts.classify().kind());
    }

    @Test
    void unusableDevKvmMeansL1() {
        var facts = new HostFacts("Linux", "amd64", Set.of("vmx"), false, false);
        assertEquals(HostFacts.Kind.NEEDS_L1, facts.classify().kind());
        assertTrue(facts.classify().reason().contains("/dev/kvm"), facts.classify().reason());
    }

    @Test
    void otherArchitecturesAreUnsupportedWithTheReason() {
        var facts = new HostFacts("Linux", "aarch64", Set.of(), true, false);
        assertEquals(HostFacts.Kind.UNSUPPORTED, facts.classify().kind());
        assertTrue(facts.classify().reason().contains("aarch64"), facts.classify().reason());
        assertFalse(HardwareKvmHost.decide(facts).possible());
    }

    @Test
    void hardwareHostIsAvailableDirectlyWithoutLookingForQemu() {
        var availability = HardwareKvmHost.decide(new HostFacts("Linux", "amd64", Set.of("vmx"), true, false));
        assertEquals(ExecResult.Mode.DIRECT, availability.mode().orElseThrow());
    }
}
