package dev.ristretto.vmm.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.check.HostFacts.KvmAccess;
import dev.ristretto.vmm.check.HostFacts.KvmDeviceState;
import dev.ristretto.vmm.check.NativeProbe.Outcome;
import dev.ristretto.vmm.kvm.Capability;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** HostCheck's verdicts on made-up hosts. */
class HostCheckTest {
    static final Set<String> INTEL_BARE = Set.of("fpu", "sse2", "vmx", "lm");
    static final Set<String> AMD_NESTED = Set.of("fpu", "sse2", "svm", "hypervisor", "lm");
    static final Set<String> PVM_FLAGS = Set.of("fpu", "sse2", "hypervisor", "lm", "avx2");
    static final HostFacts.HugePages THP_ALWAYS = new HostFacts.HugePages(0, 0, 2048, "always");
    static final HostFacts.TapAccess TAP_OK = new HostFacts.TapAccess(true, "", true);
    static final Optional<Path> PASST = Optional.of(Path.of("/usr/bin/passt"));

    static Map<Capability, Boolean> allCaps() {
        Map<Capability, Boolean> m = new EnumMap<>(Capability.class);
        for (Capability c : Capability.values()) {
            m.put(c, true);
        }
        return m;
    }

    static HostFacts openHost(Set<String> flags, Set<String> modules, Outcome probe, Map<Capability, Boolean> caps) {
        return new HostFacts(KvmAccess.open("/dev/kvm"), OptionalInt.of(12), caps, OptionalInt.of(1024),
                new HostFacts.CpuInfo(flags, modules), new NativeProbe.Result(probe, "probe said so"), THP_ALWAYS,
                TAP_OK, PASST);
    }

    static HostFacts closedHost(KvmDeviceState state, String message, Set<String> flags) {
        return new HostFacts(new KvmAccess("/dev/kvm", state, message), OptionalInt.empty(), Map.of(),
                OptionalInt.empty(), new HostFacts.CpuInfo(flags, Set.of()),
                new NativeProbe.Result(Outcome.NOT_RUN, "not checked: /dev/kvm is unavailable"), THP_ALWAYS, TAP_OK,
                PASST);
    }

    static Finding finding(CheckReport r, String name) {
        return r.findings().stream().filter(f -> f.name().equals(name)).findFirst().orElseThrow();
    }

    static long count(CheckReport r, Finding.Status s) {
        return r.findings().stream().filter(f -> f.status() == s).count();
    }

    @Test
    void hardwareHostCanBootLinux() {
        CheckReport r = HostCheck.evaluate(openHost(INTEL_BARE, Set.of("kvm", "kvm_intel"), Outcome.NATIVE, allCaps()));
        assertTrue(r.canBootLinux());
        assertEquals(0, r.exitCode());
        assertEquals(VirtualizationKind.HARDWARE, r.virtualization());
        assertEquals("hardware (VT-x/AMD-V): vmx flag, no hypervisor flag", finding(r, "virtualization").detail());
        assertEquals(Finding.Status.OK, finding(r, "unmodified guests").status());
        assertEquals(0, count(r, Finding.Status.FAIL) + count(r, Finding.Status.WARN) + count(r, Finding.Status.SKIP));
        // /dev/kvm, API, 12 capabilities, max vCPUs, virtualization, guests, hugepages, TAP, passt.
        assertEquals(3 + Capability.values().length + 5, r.findings().size());
        assertEquals("Ristretto can boot a full Linux guest on this host", r.reason());
        String[] lines = r.toText().split("\n");
        assertEquals(r.reason(), lines[lines.length - 1]);
        // Names are padded to the longest, KVM_CAP_SET_IDENTITY_MAP_ADDR (29 characters).
        assertEquals("ok    /dev/kvm" + " ".repeat(29 - 8 + 2) + "present, readable and writable", lines[0]);
        assertEquals("ok    KVM_CAP_SET_IDENTITY_MAP_ADDR  present", lines[11]);
    }

    @Test
    void nestedHostCanBootLinux() {
        CheckReport r = HostCheck.evaluate(openHost(AMD_NESTED, Set.of("kvm", "kvm_amd"), Outcome.NATIVE, allCaps()));
        assertTrue(r.canBootLinux());
        assertEquals(VirtualizationKind.NESTED, r.virtualization());
        assertEquals("nested (VT-x/AMD-V inside a VM): svm and hypervisor flags", finding(r, "virtualization").detail());
    }

    @Test
    void pvmHostCannotBootLinux() {
        CheckReport r = HostCheck.evaluate(openHost(PVM_FLAGS, Set.of("kvm", "kvm_pvm"), Outcome.EMULATION_ONLY,
                allCaps()));
        assertFalse(r.canBootLinux());
        assertEquals(1, r.exitCode());
        assertEquals(VirtualizationKind.SOFTWARE_PVM, r.virtualization());
        assertEquals(Finding.Status.OK, finding(r, "/dev/kvm").status());
        Finding v = finding(r, "virtualization");
        assertEquals(Finding.Status.WARN, v.status());
        assertEquals("software-emulated (PVM): kvm_pvm loaded, no vmx/svm flag", v.detail());
        Finding g = finding(r, "unmodified guests");
        assertEquals(Finding.Status.FAIL, g.status());
        assertEquals("cannot run natively: probe said so; PVM runs only PVM-enabled guest kernels natively", g.detail());
        assertEquals(HostCheck.NATIVE_FIX, g.fix());
        assertEquals("Ristretto cannot boot a full Linux guest here: this host's KVM is software-emulated (PVM),"
                + " so unmodified guests cannot run natively", r.reason());
        assertTrue(r.toText().endsWith(r.reason() + System.lineSeparator()));
        assertTrue(r.toText().contains("\nFAIL  unmodified guests "), r.toText());
    }

    @Test
    void missingKvmOnABareMetalIntelHostSaysToLoadTheModule() {
        CheckReport r = HostCheck.evaluate(closedHost(KvmDeviceState.MISSING, "/dev/kvm does not exist", INTEL_BARE));
        assertFalse(r.canBootLinux());
        Finding kvm = finding(r, "/dev/kvm");
        assertEquals(Finding.Status.FAIL, kvm.status());
        assertEquals("missing: no KVM module is loaded", kvm.detail());
        assertEquals("load KVM: sudo modprobe kvm_intel", kvm.fix());
        assertEquals(Finding.Status.SKIP, finding(r, "KVM API version").status());
        assertEquals(Finding.Status.SKIP, finding(r, "KVM_CAP_IRQCHIP").status());
        assertEquals(Finding.Status.SKIP, finding(r, "unmodified guests").status());
        assertEquals("Ristretto cannot boot a full Linux guest here: /dev/kvm: missing: no KVM module is loaded",
                r.reason());
    }

    @Test
    void missingKvmInAVmWithoutNestingSaysToEnableNesting() {
        CheckReport r = HostCheck.evaluate(closedHost(KvmDeviceState.MISSING, "x", Set.of("lm", "hypervisor")));
        assertEquals(VirtualizationKind.NONE, r.virtualization());
        assertTrue(finding(r, "/dev/kvm").fix().startsWith("this is a VM without nested virtualization"));
        assertEquals(Finding.Status.FAIL, finding(r, "virtualization").status());
        assertTrue(r.reason().endsWith("(and 1 more FAIL above)"), r.reason());
    }

    @Test
    void missingKvmWithoutVirtualizationFlagsSaysToEnableItInFirmware() {
        CheckReport r = HostCheck.evaluate(closedHost(KvmDeviceState.MISSING, "x", Set.of("lm")));
        assertTrue(finding(r, "/dev/kvm").fix().startsWith("enable VT-x/AMD-V"), finding(r, "/dev/kvm").fix());
    }

    @Test
    void inaccessibleKvmSaysToJoinTheKvmGroup() {
        CheckReport r = HostCheck.evaluate(closedHost(KvmDeviceState.NO_PERMISSION, "no permission", INTEL_BARE));
        assertFalse(r.canBootLinux());
        Finding kvm = finding(r, "/dev/kvm");
        assertEquals(Finding.Status.FAIL, kvm.status());
        assertEquals("present but not readable and writable by this user", kvm.detail());
        assertTrue(kvm.fix().contains("sudo usermod -aG kvm $USER"), kvm.fix());
        assertTrue(kvm.fix().contains("KERNEL==\"kvm\", GROUP=\"kvm\", MODE=\"0660\""), kvm.fix());
        assertEquals(VirtualizationKind.HARDWARE, r.virtualization(), "the CPU flags still say what the host is");
    }

    @Test
    void aMissingCapabilityFails() {
        Map<Capability, Boolean> caps = allCaps();
        caps.put(Capability.IMMEDIATE_EXIT, false);
        CheckReport r = HostCheck.evaluate(openHost(INTEL_BARE, Set.of("kvm_intel"), Outcome.NATIVE, caps));
        assertFalse(r.canBootLinux());
        Finding f = finding(r, "KVM_CAP_IMMEDIATE_EXIT");
        assertEquals(Finding.Status.FAIL, f.status());
        assertEquals("missing", f.detail());
        assertEquals(1, count(r, Finding.Status.FAIL));
        assertEquals("Ristretto cannot boot a full Linux guest here: KVM_CAP_IMMEDIATE_EXIT: missing", r.reason());
    }

    @Test
    void anInconclusiveProbeIsNotANativeHost() {
        CheckReport r = HostCheck.evaluate(openHost(INTEL_BARE, Set.of("kvm_intel"), Outcome.INCONCLUSIVE, allCaps()));
        assertFalse(r.canBootLinux());
        assertEquals("could not be confirmed to run natively: probe said so", finding(r, "unmodified guests").detail());
    }

    @Test
    void hugepagesTapAndPasstOnlyWarn() {
        HostFacts f = new HostFacts(KvmAccess.open("/dev/kvm"), OptionalInt.of(12), allCaps(), OptionalInt.of(8),
                new HostFacts.CpuInfo(INTEL_BARE, Set.of("kvm_intel")), new NativeProbe.Result(Outcome.NATIVE, "ran"),
                new HostFacts.HugePages(16, 4, 2048, "madvise"), new HostFacts.TapAccess(true, "", false),
                Optional.empty());
        CheckReport r = HostCheck.evaluate(f);
        assertTrue(r.canBootLinux());
        assertEquals(3, count(r, Finding.Status.WARN));
        assertEquals("4 of 16 hugetlbfs pages free (2048 KiB each); transparent hugepages: madvise (guest RAM uses"
                + " small pages: slower, not broken)", finding(r, "hugepages").detail());
        assertTrue(finding(r, "TAP networking").fix().startsWith("sudo ip tuntap add dev tap0 mode tap user $USER"));
        assertEquals("not installed; --net user needs it", finding(r, "passt").detail());
    }

    @Test
    void tunThatCannotBeOpenedWarnsWithTheError() {
        Finding f = HostCheck.tap(new HostFacts.TapAccess(false, "No such device", true));
        assertEquals(Finding.Status.WARN, f.status());
        assertEquals("/dev/net/tun cannot be opened: No such device", f.detail());
    }

    @Test
    void pvmWithAVmxFlagButNoVmxModuleIsStillPvm() {
        assertEquals(VirtualizationKind.SOFTWARE_PVM,
                VirtualizationKind.of(new HostFacts.CpuInfo(Set.of("vmx", "hypervisor"), Set.of("kvm", "kvm_pvm"))));
        assertEquals(VirtualizationKind.NESTED,
                VirtualizationKind.of(new HostFacts.CpuInfo(Set.of("vmx", "hypervisor"), Set.of("kvm", "kvm_intel"))));
    }

    @Test
    void jsonCarriesTheVerdictFactsAndFindings() {
        CheckReport r = HostCheck.evaluate(openHost(PVM_FLAGS, Set.of("kvm_pvm"), Outcome.EMULATION_ONLY, allCaps()));
        String json = r.toJson();
        assertTrue(json.startsWith("{\"canBootLinux\":false,\"reason\":\"Ristretto cannot boot"), json);
        assertTrue(json.contains("\"virtualization\":\"software-pvm\",\"nativeGuests\":\"emulation-only\""), json);
        assertTrue(json.contains("\"kvm\":{\"path\":\"/dev/kvm\",\"state\":\"open\",\"apiVersion\":12,\"maxVcpus\":1024,"
                + "\"capabilities\":{\"KVM_CAP_IRQCHIP\":true,"), json);
        assertTrue(json.contains("{\"name\":\"/dev/kvm\",\"status\":\"ok\",\"detail\":\"present, readable and writable\","
                + "\"fix\":null}"), json);
        assertTrue(json.endsWith("}]}"), json);
        String closed = HostCheck.evaluate(closedHost(KvmDeviceState.MISSING, "m", INTEL_BARE)).toJson();
        assertTrue(closed.contains("\"state\":\"missing\",\"apiVersion\":null,\"maxVcpus\":null,\"capabilities\":{}}"),
                closed);
    }

    @Test
    void jsonStringsAreEscaped() {
        assertEquals("\"a\\\"b\\\\c\\nd\\te\\u0001f\u00e9\"", CheckReport.Json.string("a\"b\\c\nd\te\u0001f\u00e9"));
        // The udev-rule fix holds quotes: the document must still be balanced.
        String json = HostCheck.evaluate(closedHost(KvmDeviceState.NO_PERMISSION, "x", INTEL_BARE)).toJson();
        assertTrue(json.contains("KERNEL==\\\"kvm\\\""), json);
    }
}
