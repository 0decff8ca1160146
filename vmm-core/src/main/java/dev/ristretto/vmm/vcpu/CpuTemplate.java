package dev.ristretto.vmm.vcpu;

import dev.ristretto.vmm.kvm.CpuidEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What CPU the guest is told it has: a filter over the CPUID table KVM supports
 * (KVM_GET_SUPPORTED_CPUID), applied before {@link VcpuSetup#cpuid} adds the topology. The idea is
 * Firecracker's "CPU templates" (docs/cpu_templates/cpu-templates.md): hiding host features the
 * guest does not need makes a guest's view of the CPU the same on every host that has the
 * baseline, and keeps it off instructions a host may run badly (on this project's PVM hosts
 * {@code xsave}/{@code xrstor} go through KVM's instruction emulator, which cannot run them).
 *
 * <ul>
 * <li>{@link #HOST}: everything KVM supports, unchanged (the default).
 * <li>{@link #MINIMAL}: a conservative x86-64 baseline, close to the psABI's x86-64-v2 level
 *     (SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B, LAHF/SAHF in 64-bit mode), plus the
 *     platform features a kernel relies on that are not instruction-set extensions (x2APIC, the
 *     TSC-deadline timer, PCID, SMEP/SMAP/UMIP, FSGSBASE, the speculation-control MSRs) and the
 *     hypervisor bit and KVM paravirtual leaves 0x40000000+. Hidden: AVX, AVX2, AVX-512, FMA,
 *     F16C, BMI1/2, ADX, AES-NI, PCLMULQDQ, SHA, RDRAND/RDSEED, MOVBE, the XSAVE family (XSAVE,
 *     and so OSXSAVE; XSAVEOPT, XSAVEC, XSAVES in leaf 0xD, which is zeroed), TSX (HLE, RTM),
 *     MPX, PKU/OSPKE, SGX, Intel PT, AMX, VMX/SVM (no nested virtualization) and AMD's SSE4A,
 *     XOP, FMA4, TBM, 3DNow!, LZCNT, CLZERO.
 * </ul>
 *
 * <p>The template is an allow-list for the feature words (a bit the list does not name is
 * hidden, so features new CPUs add do not leak into the baseline) and a clear-list for the
 * leaves that only describe hidden features. Bit positions: Intel SDM vol 2A, CPUID instruction,
 * Tables 3-8 (leaf 7), 3-10 (leaf 1 ECX), 3-11 (leaf 1 EDX); AMD APM vol 3, appendix E.4 (leaves
 * 0x80000001, 0x80000008). A template never adds a feature KVM does not support: it only clears
 * bits.
 */
public enum CpuTemplate {
    /** The host's CPU as KVM supports it. */
    HOST,
    /** The conservative x86-64 baseline described above. */
    MINIMAL;

    /**
     * The highest basic leaf MINIMAL reports: 0x1F, the V2 extended topology leaf (the highest
     * leaf {@link VcpuSetup} fills in). Leaves above it (0x20 processor history reset, 0x23
     * perfmon extensions, 0x24 AVX10 ...) describe features the baseline hides.
     */
    static final int MINIMAL_MAX_BASIC_LEAF = 0x1f;

    // Leaf 1 ECX (SDM vol 2A Table 3-10). Kept: instruction-set baseline and platform features.
    static final int L1_ECX_SSE3 = 1;
    static final int L1_ECX_SSSE3 = 1 << 9;
    static final int L1_ECX_CX16 = 1 << 13;
    static final int L1_ECX_PCID = 1 << 17;
    static final int L1_ECX_SSE4_1 = 1 << 19;
    static final int L1_ECX_SSE4_2 = 1 << 20;
    static final int L1_ECX_X2APIC = 1 << 21;
    static final int L1_ECX_POPCNT = 1 << 23;
    static final int L1_ECX_TSC_DEADLINE = 1 << 24;
    static final int L1_ECX_HYPERVISOR = 1 << 31;
    // Hidden (named for the tests and the reader): PCLMULQDQ 1, VMX 5, FMA 12, MOVBE 22, AES 25,
    // XSAVE 26, OSXSAVE 27, AVX 28, F16C 29, RDRAND 30.
    static final int L1_ECX_VMX = 1 << 5;
    static final int L1_ECX_XSAVE = 1 << 26;
    static final int L1_ECX_OSXSAVE = 1 << 27;
    static final int L1_ECX_AVX = 1 << 28;
    static final int L1_ECX_KEEP = L1_ECX_SSE3 | L1_ECX_SSSE3 | L1_ECX_CX16 | L1_ECX_PCID | L1_ECX_SSE4_1
            | L1_ECX_SSE4_2 | L1_ECX_X2APIC | L1_ECX_POPCNT | L1_ECX_TSC_DEADLINE | L1_ECX_HYPERVISOR;

    // Leaf 7 subleaf 0 EBX (SDM vol 2A Table 3-8). Kept: system features the kernel uses.
    static final int L7_EBX_FSGSBASE = 1;
    static final int L7_EBX_TSC_ADJUST = 1 << 1;
    static final int L7_EBX_SMEP = 1 << 7;
    static final int L7_EBX_ERMS = 1 << 9;
    static final int L7_EBX_INVPCID = 1 << 10;
    static final int L7_EBX_SMAP = 1 << 20;
    // Hidden: SGX 2, BMI1 3, HLE 4, AVX2 5, BMI2 8, RTM 11, MPX 14, AVX512F 16, RDSEED 18, ADX 19,
    // PT 25, SHA 29, and the other AVX-512 bits.
    static final int L7_EBX_SGX = 1 << 2;
    static final int L7_EBX_HLE = 1 << 4;
    static final int L7_EBX_AVX2 = 1 << 5;
    static final int L7_EBX_RTM = 1 << 11;
    static final int L7_EBX_MPX = 1 << 14;
    static final int L7_EBX_AVX512F = 1 << 16;
    static final int L7_EBX_PT = 1 << 25;
    static final int L7_EBX_SHA = 1 << 29;
    static final int L7_EBX_KEEP = L7_EBX_FSGSBASE | L7_EBX_TSC_ADJUST | L7_EBX_SMEP | L7_EBX_ERMS
            | L7_EBX_INVPCID | L7_EBX_SMAP;

    // Leaf 7 subleaf 0 ECX: only UMIP (2). Hidden: PKU 3, OSPKE 4, LA57 16, SGX_LC 30 ...
    static final int L7_ECX_UMIP = 1 << 2;
    static final int L7_ECX_PKU = 1 << 3;
    static final int L7_ECX_OSPKE = 1 << 4;
    static final int L7_ECX_KEEP = L7_ECX_UMIP;

    // Leaf 7 subleaf 0 EDX: the speculation-control enumeration the kernel's mitigations need.
    // Hidden: AMX-BF16 22, AMX-TILE 24, AMX-INT8 25, AVX512_4VNNIW 2, SERIALIZE 14, TSXLDTRK 16 ...
    static final int L7_EDX_MD_CLEAR = 1 << 10;
    static final int L7_EDX_SPEC_CTRL = 1 << 26;
    static final int L7_EDX_STIBP = 1 << 27;
    static final int L7_EDX_FLUSH_L1D = 1 << 28;
    static final int L7_EDX_ARCH_CAPABILITIES = 1 << 29;
    static final int L7_EDX_SSBD = 1 << 31;
    static final int L7_EDX_AMX_TILE = 1 << 24;
    static final int L7_EDX_KEEP = L7_EDX_MD_CLEAR | L7_EDX_SPEC_CTRL | L7_EDX_STIBP | L7_EDX_FLUSH_L1D
            | L7_EDX_ARCH_CAPABILITIES | L7_EDX_SSBD;

    // Leaf 0x80000001 ECX (APM vol 3 E.4.2): LAHF/SAHF 0, CmpLegacy 1, TopologyExtensions 22
    // (VcpuSetup fills leaf 0x8000001E). Hidden: SVM 2, LZCNT 5, SSE4A 6, PREFETCHW 8, XOP 11,
    // FMA4 16, TBM 21, MONITORX 29 ...
    static final int E1_ECX_LAHF = 1;
    static final int E1_ECX_CMP_LEGACY = 1 << 1;
    static final int E1_ECX_SVM = 1 << 2;
    static final int E1_ECX_LZCNT = 1 << 5;
    static final int E1_ECX_SSE4A = 1 << 6;
    static final int E1_ECX_TOPOEXT = 1 << 22;
    static final int E1_ECX_KEEP = E1_ECX_LAHF | E1_ECX_CMP_LEGACY | E1_ECX_TOPOEXT;

    // Leaf 0x80000001 EDX (APM vol 3 E.4.2): bits 0-9, 12-17, 23 and 24 repeat leaf 1 EDX (FPU ...
    // FXSR), which stays whole; SYSCALL 11, NX 20, Page1GB 26, RDTSCP 27, LM 29. Hidden: MmxExt 22,
    // FFXSR 25, 3DNowExt 30, 3DNow 31.
    static final int E1_EDX_LEAF1_MIRROR = 0x3ff | 0x3f << 12 | 1 << 23 | 1 << 24;
    static final int E1_EDX_SYSCALL = 1 << 11;
    static final int E1_EDX_NX = 1 << 20;
    static final int E1_EDX_PAGE1GB = 1 << 26;
    static final int E1_EDX_RDTSCP = 1 << 27;
    static final int E1_EDX_LM = 1 << 29;
    static final int E1_EDX_3DNOW = 1 << 31;
    static final int E1_EDX_KEEP = E1_EDX_LEAF1_MIRROR | E1_EDX_SYSCALL | E1_EDX_NX | E1_EDX_PAGE1GB
            | E1_EDX_RDTSCP | E1_EDX_LM;

    // Leaf 0x80000008 EBX (APM vol 3 E.4.7): instructions beyond the baseline (CLZERO 0,
    // XSaveErPtr 2, INVLPGB 3, RDPRU 4, MCOMMIT 8) are hidden; the rest is speculation-control
    // enumeration (IBPB 12, IBRS 14, STIBP 15, SSBD 24 ...) and stays.
    static final int E8_EBX_CLZERO = 1;
    static final int E8_EBX_HIDE = E8_EBX_CLZERO | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 8;

    /**
     * Leaves MINIMAL zeroes whole because they only describe hidden features: 0xD (XSAVE state
     * components), 0x12 (SGX), 0x14 (Intel PT), 0x19 (Key Locker), 0x1D and 0x1E (AMX tiles), and
     * AMD's 0x8000000A (SVM revision and features: nested paging, VMCB clean bits, vGIF ... — APM
     * vol 3 E.4.9), which a guest reads as nested-virtualization support even with the SVM bit clear.
     */
    static boolean minimalZeroesLeaf(int function) {
        return function == 0xd || function == 0x12 || function == 0x14 || function == 0x19 || function == 0x1d
                || function == 0x1e || function == 0x8000_000a;
    }

    /** The template named {@code name} ("host" or "minimal", any case). */
    public static CpuTemplate parse(String name) {
        for (CpuTemplate t : values()) {
            if (t.name().equalsIgnoreCase(name.trim())) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown CPU template '" + name + "'; use host or minimal");
    }

    /** The name users type: "host" or "minimal". */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Applies this template to {@code supported} (KVM_GET_SUPPORTED_CPUID's entries, or a table
     * derived from them) and returns a new list in the same order; pure.
     */
    public List<CpuidEntry> apply(List<CpuidEntry> supported) {
        if (this == HOST) {
            return List.copyOf(supported);
        }
        List<CpuidEntry> out = new ArrayList<>(supported.size());
        for (CpuidEntry e : supported) {
            // Basic leaves are 0..0x3FFFFFFF; 0x40000000+ (hypervisor) and 0x80000000+
            // (extended) are compared unsigned so the latter do not look negative.
            boolean basic = Integer.compareUnsigned(e.function(), 0x4000_0000) < 0;
            if (basic && e.function() > MINIMAL_MAX_BASIC_LEAF) {
                continue; // beyond the clamped maximum basic leaf
            }
            out.add(minimal(e));
        }
        return List.copyOf(out);
    }

    private static CpuidEntry minimal(CpuidEntry e) {
        if (minimalZeroesLeaf(e.function())) {
            return zeroed(e);
        }
        return switch (e.function()) {
            // EAX: the maximum basic leaf (SDM Table 3-8, leaf 0).
            case 0x0 -> e.withEax(Math.min(e.eax(), MINIMAL_MAX_BASIC_LEAF));
            // EDX (Table 3-11) is the x86-64 baseline itself (FPU, TSC, MSR, PAE, CX8, APIC,
            // CMOV, PAT, FXSR, SSE, SSE2 ...) and stays.
            case 0x1 -> e.withEcx(e.ecx() & L1_ECX_KEEP);
            case 0x7 -> switch (e.index()) {
                // EAX keeps the maximum subleaf so subleaf 2's mitigation bits stay visible.
                case 0 -> e.withEbx(e.ebx() & L7_EBX_KEEP).withEcx(e.ecx() & L7_ECX_KEEP).withEdx(e.edx() & L7_EDX_KEEP);
                // Subleaf 2 EDX is speculation-control enumeration only (PSFD, IPRED_CTRL,
                // RRSBA_CTRL, BHI_CTRL ...); subleaf 1 and anything later describe instructions
                // (AVX-VNNI, AVX512_BF16, AMX-FP16, APX, AVX10 ...).
                case 2 -> new CpuidEntry(e.function(), e.index(), e.flags(), 0, 0, 0, e.edx());
                default -> zeroed(e);
            };
            case 0x8000_0001 -> e.withEcx(e.ecx() & E1_ECX_KEEP).withEdx(e.edx() & E1_EDX_KEEP);
            case 0x8000_0008 -> e.withEbx(e.ebx() & ~E8_EBX_HIDE);
            default -> e;
        };
    }

    private static CpuidEntry zeroed(CpuidEntry e) {
        return new CpuidEntry(e.function(), e.index(), e.flags(), 0, 0, 0, 0);
    }
}
