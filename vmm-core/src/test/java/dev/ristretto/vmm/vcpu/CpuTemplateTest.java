package dev.ristretto.vmm.vcpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.kvm.CpuidEntry;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * CpuTemplate on a synthetic KVM_GET_SUPPORTED_CPUID table whose feature words have every bit
 * set, so the expected values are exactly the allow-lists (worked out by hand from SDM vol 2A
 * Tables 3-8, 3-10 and AMD APM vol 3 E.4.2, E.4.7).
 */
class CpuTemplateTest {
    private static final int ALL = 0xffff_ffff;
    private static final int SIG = CpuidEntry.FLAG_SIGNIFICANT_INDEX;

    static final List<CpuidEntry> SUPPORTED = List.of(
            new CpuidEntry(0x0, 0, 0, 0x24, 0x756e6547, 0x6c65746e, 0x49656e69), // GenuineIntel, max leaf 0x24
            new CpuidEntry(0x1, 0, 0, 0x000a0f11, 0x00000800, ALL, ALL),
            new CpuidEntry(0x7, 0, SIG, 2, ALL, ALL, ALL),
            new CpuidEntry(0x7, 1, SIG, ALL, ALL, ALL, ALL),
            new CpuidEntry(0x7, 2, SIG, ALL, ALL, ALL, ALL),
            new CpuidEntry(0xb, 0, SIG, 1, 1, 0x100, 0),
            new CpuidEntry(0xd, 0, SIG, 0x2e7, 0xa88, 0xa88, 0),
            new CpuidEntry(0xd, 1, SIG, 0xf, 0x340, 0x1800, 0),
            new CpuidEntry(0x12, 0, SIG, ALL, ALL, ALL, ALL),
            new CpuidEntry(0x14, 0, SIG, ALL, ALL, ALL, ALL),
            new CpuidEntry(0x1d, 0, SIG, ALL, ALL, ALL, ALL),
            new CpuidEntry(0x20, 0, 0, ALL, ALL, ALL, ALL),
            new CpuidEntry(0x24, 0, SIG, ALL, ALL, ALL, ALL),
            new CpuidEntry(0x4000_0000, 0, 0, 0x4000_0001, 0x4b4d564b, 0x564b4d56, 0x4d),
            new CpuidEntry(0x4000_0001, 0, 0, ALL, 0, 0, ALL),
            new CpuidEntry(0x8000_0000, 0, 0, 0x8000_0021, 0, 0, 0),
            new CpuidEntry(0x8000_0001, 0, 0, 0, 0, ALL, ALL),
            new CpuidEntry(0x8000_0008, 0, 0, 0x3030, ALL, 0x7001, 0),
            new CpuidEntry(0x8000_000a, 0, 0, 1, 0x8000, 0, ALL)); // SVM revision 1, 32768 ASIDs, all features

    private static CpuidEntry find(List<CpuidEntry> l, int function, int index) {
        return lookup(l, function, index).orElseThrow(() -> new AssertionError(
                String.format("no leaf %x.%x in %s", function, index, l)));
    }

    private static Optional<CpuidEntry> lookup(List<CpuidEntry> l, int function, int index) {
        return l.stream().filter(e -> e.function() == function && e.index() == index).findFirst();
    }

    @Test
    void hostLeavesTheTableAlone() {
        assertEquals(SUPPORTED, CpuTemplate.HOST.apply(SUPPORTED));
    }

    @Test
    void minimalKeepsOnlyTheBaselineInLeaf1() {
        CpuidEntry l1 = find(CpuTemplate.MINIMAL.apply(SUPPORTED), 1, 0);
        // SSE3 0, SSSE3 9, CX16 13, PCID 17, SSE4.1 19, SSE4.2 20, x2APIC 21, POPCNT 23,
        // TSC-deadline 24, hypervisor 31.
        assertEquals(0x81ba_2201, l1.ecx());
        assertEquals(0, l1.ecx() & (1 << 26), "XSAVE");
        assertEquals(0, l1.ecx() & (1 << 27), "OSXSAVE");
        assertEquals(0, l1.ecx() & (1 << 28), "AVX");
        assertEquals(ALL, l1.edx(), "leaf 1 EDX is the x86-64 baseline and stays whole");
        assertEquals(0x000a0f11, l1.eax());
        assertEquals(0x00000800, l1.ebx());
    }

    @Test
    void minimalMasksLeaf7() {
        List<CpuidEntry> m = CpuTemplate.MINIMAL.apply(SUPPORTED);
        CpuidEntry l7 = find(m, 7, 0);
        assertEquals(2, l7.eax(), "maximum subleaf kept");
        // FSGSBASE 0, TSC_ADJUST 1, SMEP 7, ERMS 9, INVPCID 10, SMAP 20.
        assertEquals(0x0010_0683, l7.ebx());
        assertEquals(0x4, l7.ecx(), "UMIP only: no PKU (3), no OSPKE (4)");
        // MD_CLEAR 10, IBRS/IBPB 26, STIBP 27, L1D_FLUSH 28, ARCH_CAPABILITIES 29, SSBD 31.
        assertEquals(0xbc00_0400, l7.edx());
        assertEquals(new CpuidEntry(7, 1, SIG, 0, 0, 0, 0), find(m, 7, 1));
        assertEquals(new CpuidEntry(7, 2, SIG, 0, 0, 0, ALL), find(m, 7, 2));
    }

    @Test
    void minimalHidesEachNamedFeature() {
        List<CpuidEntry> m = CpuTemplate.MINIMAL.apply(SUPPORTED);
        CpuidEntry l1 = find(m, 1, 0);
        CpuidEntry l7 = find(m, 7, 0);
        CpuidEntry e1 = find(m, 0x8000_0001, 0);
        assertEquals(0, l1.ecx() & (CpuTemplate.L1_ECX_AVX | CpuTemplate.L1_ECX_XSAVE | CpuTemplate.L1_ECX_OSXSAVE
                | CpuTemplate.L1_ECX_VMX));
        assertEquals(0, l7.ebx() & (CpuTemplate.L7_EBX_AVX2 | CpuTemplate.L7_EBX_AVX512F | CpuTemplate.L7_EBX_HLE
                | CpuTemplate.L7_EBX_RTM | CpuTemplate.L7_EBX_SGX | CpuTemplate.L7_EBX_PT | CpuTemplate.L7_EBX_MPX
                | CpuTemplate.L7_EBX_SHA));
        assertEquals(0, l7.ecx() & (CpuTemplate.L7_ECX_PKU | CpuTemplate.L7_ECX_OSPKE));
        assertEquals(0, l7.edx() & CpuTemplate.L7_EDX_AMX_TILE);
        assertEquals(0, e1.ecx() & (CpuTemplate.E1_ECX_SVM | CpuTemplate.E1_ECX_SSE4A | CpuTemplate.E1_ECX_LZCNT));
        assertEquals(0, e1.edx() & CpuTemplate.E1_EDX_3DNOW);
    }

    @Test
    void minimalZeroesXsaveSgxPtAmxAndSvmLeaves() {
        List<CpuidEntry> m = CpuTemplate.MINIMAL.apply(SUPPORTED);
        for (int[] fi : new int[][] {{0xd, 0}, {0xd, 1}, {0x12, 0}, {0x14, 0}, {0x1d, 0}}) {
            CpuidEntry e = find(m, fi[0], fi[1]);
            assertEquals(new CpuidEntry(fi[0], fi[1], SIG, 0, 0, 0, 0), e);
        }
        // With the SVM bit hidden, leaf 0x8000000A must not go on describing nested paging, vGIF ...
        // (Linux lists those as npt, vgif ... in /proc/cpuinfo from this leaf alone).
        assertEquals(new CpuidEntry(0x8000_000a, 0, 0, 0, 0, 0, 0), find(m, 0x8000_000a, 0));
        assertEquals(find(SUPPORTED, 0x8000_000a, 0), find(CpuTemplate.HOST.apply(SUPPORTED), 0x8000_000a, 0));
    }

    @Test
    void minimalClampsTheMaximumBasicLeafAndDropsLeavesAboveIt() {
        List<CpuidEntry> m = CpuTemplate.MINIMAL.apply(SUPPORTED);
        assertEquals(0x1f, find(m, 0, 0).eax());
        assertEquals(0x756e6547, find(m, 0, 0).ebx(), "vendor kept");
        assertFalse(lookup(m, 0x20, 0).isPresent());
        assertFalse(lookup(m, 0x24, 0).isPresent());
        // A host whose maximum is already lower keeps its own.
        List<CpuidEntry> amd = CpuTemplate.MINIMAL.apply(List.of(new CpuidEntry(0, 0, 0, 0x10, 1, 2, 3)));
        assertEquals(0x10, amd.getFirst().eax());
    }

    @Test
    void minimalKeepsTopologyHypervisorAndExtendedLeaves() {
        List<CpuidEntry> m = CpuTemplate.MINIMAL.apply(SUPPORTED);
        assertEquals(find(SUPPORTED, 0xb, 0), find(m, 0xb, 0));
        assertEquals(find(SUPPORTED, 0x4000_0000, 0), find(m, 0x4000_0000, 0), "KVM signature leaf");
        assertEquals(find(SUPPORTED, 0x4000_0001, 0), find(m, 0x4000_0001, 0), "KVM paravirt features");
        assertEquals(find(SUPPORTED, 0x8000_0000, 0), find(m, 0x8000_0000, 0));
        CpuidEntry e1 = find(m, 0x8000_0001, 0);
        assertEquals(0x0040_0003, e1.ecx(), "LAHF/SAHF 0, CmpLegacy 1, TopologyExtensions 22");
        // Leaf-1 mirror bits 0-9, 12-17, 23, 24; SYSCALL 11, NX 20, Page1GB 26, RDTSCP 27, LM 29.
        assertEquals(0x2d93_fbff, e1.edx());
        CpuidEntry e8 = find(m, 0x8000_0008, 0);
        assertEquals(0xffff_fee2, e8.ebx(), "CLZERO 0, XSaveErPtr 2, INVLPGB 3, RDPRU 4, MCOMMIT 8 hidden");
        assertEquals(0x3030, e8.eax(), "address sizes kept");
        assertEquals(SUPPORTED.size() - 2, m.size(), "only leaves 0x20 and 0x24 dropped");
    }

    @Test
    void aTemplateOnlyClearsBits() {
        List<CpuidEntry> m = CpuTemplate.MINIMAL.apply(SUPPORTED);
        for (CpuidEntry e : m) {
            CpuidEntry s = find(SUPPORTED, e.function(), e.index());
            if (e.function() == 0) {
                continue; // the maximum leaf is a number, not a feature word
            }
            assertEquals(e.eax(), e.eax() & s.eax(), e.toString());
            assertEquals(e.ebx(), e.ebx() & s.ebx(), e.toString());
            assertEquals(e.ecx(), e.ecx() & s.ecx(), e.toString());
            assertEquals(e.edx(), e.edx() & s.edx(), e.toString());
        }
    }

    @Test
    void theTopologyIsAddedAfterTheTemplate() {
        List<CpuidEntry> c = VcpuSetup.cpuid(CpuTemplate.MINIMAL.apply(SUPPORTED), 1, 2);
        CpuidEntry l1 = find(c, 1, 0);
        assertEquals(1, l1.ebx() >>> 24, "APIC ID");
        assertTrue((l1.ecx() & VcpuSetup.LEAF1_ECX_HYPERVISOR) != 0);
        assertEquals(0, l1.ecx() & CpuTemplate.L1_ECX_AVX);
        assertEquals(3, c.stream().filter(e -> e.function() == 0xb).count());
    }

    @Test
    void parseAcceptsTheCliNames() {
        assertEquals(CpuTemplate.HOST, CpuTemplate.parse("host"));
        assertEquals(CpuTemplate.MINIMAL, CpuTemplate.parse(" Minimal "));
        assertEquals("minimal", CpuTemplate.MINIMAL.cliName());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CpuTemplate.parse("t2"));
        assertEquals("unknown CPU template 't2'; use host or minimal", e.getMessage());
    }
}
