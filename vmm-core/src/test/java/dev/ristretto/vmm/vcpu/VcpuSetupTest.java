package dev.ristretto.vmm.vcpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.kvm.CpuidEntry;
import dev.ristretto.vmm.kvm.VcpuFd;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pure parts of VcpuSetup: CPUID table, boot MSRs, LINT wiring. */
class VcpuSetupTest {
    // Leaf 0 vendor strings as EBX, EDX, ECX.
    private static final CpuidEntry INTEL0 = new CpuidEntry(0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69);
    private static final CpuidEntry AMD0 = new CpuidEntry(0, 0, 0, 0x1c, 0x68747541, 0x444d4163, 0x69746e65);
    private static final CpuidEntry LEAF1 = new CpuidEntry(1, 0, 0, 0x000a0f11, 0x00ff0800, 0x01202000, 0x178bfbff);
    private static final CpuidEntry L1D = new CpuidEntry(4, 0, 1, 0x121 | 7 << 26 | 1 << 14, 0x01c0003f, 0x3f, 0);
    private static final CpuidEntry L3 = new CpuidEntry(4, 3, 1, 0x163 | 7 << 26 | 15 << 14, 0x03c0003f, 0x3fff, 6);
    private static final CpuidEntry L4NONE = new CpuidEntry(4, 4, 1, 0, 0, 0, 0);
    private static final CpuidEntry LEAFB = new CpuidEntry(0xb, 0, 1, 0, 0, 0, 0);
    private static final CpuidEntry KVM_SIG = new CpuidEntry(0x4000_0000, 0, 0, 0x4000_0001, 0x4b4d564b, 0x564b4d56, 0x4d);
    private static final CpuidEntry AMD_8 = new CpuidEntry(0x8000_0008, 0, 0, 0x3030, 0, 0x7001, 0);
    private static final CpuidEntry AMD_1E = new CpuidEntry(0x8000_001e, 0, 0, 0, 0, 0, 0);

    private static CpuidEntry find(List<CpuidEntry> l, int function, int index) {
        return l.stream().filter(e -> e.function() == function && e.index() == index).findFirst().orElseThrow();
    }

    @Test
    void leaf1CarriesTheApicIdCountAndHypervisorBit() {
        List<CpuidEntry> c = VcpuSetup.cpuid(List.of(INTEL0, LEAF1), 5, 8);
        CpuidEntry l1 = find(c, 1, 0);
        assertEquals(5, l1.ebx() >>> 24);
        assertEquals(8, (l1.ebx() >>> 16) & 0xff);
        assertEquals(0x0800, l1.ebx() & 0xffff, "CLFLUSH size and brand index kept");
        assertTrue((l1.ecx() & (1 << 31)) != 0);
        assertTrue((l1.edx() & (1 << 28)) != 0, "HTT with more than one logical processor");
        assertEquals(0, VcpuSetup.cpuid(List.of(INTEL0, LEAF1), 0, 1).get(1).edx() & (1 << 28), "no HTT alone");
    }

    @Test
    void leaf4SaysCoresPerPackageAndWhoSharesEachCache() {
        List<CpuidEntry> c = VcpuSetup.cpuid(List.of(INTEL0, L1D, L3, L4NONE), 2, 4);
        assertEquals(3, find(c, 4, 0).eax() >>> 26);
        assertEquals(0, (find(c, 4, 0).eax() >>> 14) & 0xfff, "L1 private to the core");
        assertEquals(3, (find(c, 4, 3).eax() >>> 14) & 0xfff, "L3 shared by all 4");
        assertEquals(0x163, find(c, 4, 3).eax() & 0x3fff, "type and level kept");
        assertEquals(L4NONE, find(c, 4, 4), "the terminating null cache is left alone");
    }

    @Test
    void leafBIsRebuiltWithSmtCoreAndTerminator() {
        List<CpuidEntry> c = VcpuSetup.cpuid(List.of(INTEL0, LEAFB), 5, 6);
        assertEquals(new CpuidEntry(0xb, 0, 1, 0, 1, 0x100, 5), find(c, 0xb, 0));
        assertEquals(new CpuidEntry(0xb, 1, 1, 3, 6, 0x201, 5), find(c, 0xb, 1)); // ceil(log2 6) = 3
        assertEquals(new CpuidEntry(0xb, 2, 1, 0, 0, 2, 5), find(c, 0xb, 2));
        assertEquals(3, c.stream().filter(e -> e.function() == 0xb).count());
    }

    @Test
    void kvmSignatureLeavesAreKept() {
        List<CpuidEntry> c = VcpuSetup.cpuid(List.of(INTEL0, LEAF1, KVM_SIG), 0, 2);
        assertEquals(KVM_SIG, find(c, 0x4000_0000, 0));
    }

    @Test
    void amdLeavesCarryCoreCountAndExtendedApicId() {
        List<CpuidEntry> c = VcpuSetup.cpuid(List.of(AMD0, AMD_8, AMD_1E), 3, 4);
        assertEquals(0x2003, find(c, 0x8000_0008, 0).ecx() & 0xf0ff, "NC = 3, ApicIdCoreIdSize = 2");
        assertEquals(3, find(c, 0x8000_001e, 0).eax());
        assertEquals(3, find(c, 0x8000_001e, 0).ebx() & 0xff);
        // On Intel the same leaves are left as KVM reported them.
        List<CpuidEntry> intel = VcpuSetup.cpuid(List.of(INTEL0, AMD_8), 3, 4);
        assertEquals(AMD_8, find(intel, 0x8000_0008, 0));
    }

    @Test
    void indexAndCountAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> VcpuSetup.cpuid(List.of(LEAF1), 2, 2));
        assertThrows(IllegalArgumentException.class, () -> VcpuSetup.cpuid(List.of(LEAF1), 0, 0));
        assertThrows(IllegalArgumentException.class, () -> VcpuSetup.cpuid(List.of(LEAF1), 0, 256));
    }

    @Test
    void bootMsrs() {
        Map<Integer, Long> m = VcpuSetup.bootMsrs();
        assertEquals(0x806L, m.get(0x2ff), "MTRRs on, default type write-back");
        assertEquals(1L, m.get(0x1a0), "fast strings");
        assertEquals(0L, m.get(0xc0000102), "KERNEL_GS_BASE");
        assertEquals(0L, m.get(0x10), "TSC");
        assertEquals(11, m.size());
    }

    @Test
    void lintsGetMaskedExtIntAndNmiKeepingTheOtherBits() {
        byte[] lapic = new byte[VcpuFd.LAPIC_SIZE];
        ByteBuffer b = ByteBuffer.wrap(lapic).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x350, 0x0000_8700); // what KVM leaves on the BSP: ExtINT, unmasked (level bit set here)
        b.putInt(0x360, 0x0001_0700); // masked, ExtINT
        ByteBuffer out = ByteBuffer.wrap(VcpuSetup.wireLints(lapic)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x0001_8700, out.getInt(0x350), "LINT0: ExtINT, masked, trigger bit kept");
        assertEquals(0x0001_0400, out.getInt(0x360), "LINT1: NMI, mask kept");
        assertEquals(0x0000_8700, b.getInt(0x350), "input not modified");
        assertThrows(IllegalArgumentException.class, () -> VcpuSetup.wireLints(new byte[16]));
    }
}
