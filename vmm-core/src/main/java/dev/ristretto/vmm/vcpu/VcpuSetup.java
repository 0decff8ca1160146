package dev.ristretto.vmm.vcpu;

import dev.ristretto.vmm.kvm.CpuidEntry;
import dev.ristretto.vmm.kvm.VcpuFd;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The per-vCPU state a freshly created vCPU needs before any boot protocol sets its registers:
 * CPUID with its own APIC ID and the VM's topology, the MSRs a 64-bit kernel expects at boot, a
 * clean FPU, and the LAPIC's LINT pins wired the way the MP spec's virtual-wire mode wants them.
 * The pure parts ({@link #cpuid}, {@link #bootMsrs}, {@link #wireLints}) are separate so they can
 * be tested without KVM. Call after KVM_CREATE_IRQCHIP (the LAPIC must exist).
 */
public final class VcpuSetup {
    // CPUID bits (Intel SDM vol 2A, CPUID instruction; AMD APM vol 3 appendix E).
    static final int LEAF1_ECX_HYPERVISOR = 1 << 31;
    static final int LEAF1_EDX_HTT = 1 << 28;
    static final int TOPOLOGY_LEVEL_SMT = 1;
    static final int TOPOLOGY_LEVEL_CORE = 2;

    // MSR numbers (Intel SDM vol 4, chapter 2).
    static final int MSR_IA32_TSC = 0x10;
    static final int MSR_IA32_SYSENTER_CS = 0x174;
    static final int MSR_IA32_SYSENTER_ESP = 0x175;
    static final int MSR_IA32_SYSENTER_EIP = 0x176;
    static final int MSR_IA32_MISC_ENABLE = 0x1a0;
    static final int MSR_MTRR_DEF_TYPE = 0x2ff;
    static final int MSR_STAR = 0xc0000081;
    static final int MSR_LSTAR = 0xc0000082;
    static final int MSR_CSTAR = 0xc0000083;
    static final int MSR_SYSCALL_MASK = 0xc0000084;
    static final int MSR_KERNEL_GS_BASE = 0xc0000102;
    /** IA32_MISC_ENABLE bit 0: fast-strings (rep movs/stos) enabled, as firmware leaves it. */
    static final long MISC_ENABLE_FAST_STRING = 1;
    /** IA32_MTRR_DEF_TYPE: E (bit 11) enables MTRRs; type 6 = write-back for all memory not covered by a range. */
    static final long MTRR_ENABLE = 1L << 11;
    static final long MTRR_TYPE_WB = 6;

    // LAPIC register offsets and LVT delivery modes (Intel SDM vol 3 §11.5.1, Figure 11-8).
    static final int APIC_LVT_LINT0 = 0x350;
    static final int APIC_LVT_LINT1 = 0x360;
    static final int APIC_DELIVERY_MODE_MASK = 0x700;
    static final int APIC_MODE_NMI = 0x4;
    static final int APIC_MODE_EXTINT = 0x7;

    /** Leaf 1 EBX[31:24] and leaf 4 are 8-bit / 6-bit wide; beyond 255 vCPUs x2APIC-only topology is needed. */
    public static final int MAX_VCPUS = 255;

    private VcpuSetup() {
    }

    /**
     * Configures vCPU {@code index} of {@code count}: CPUID from {@code supported}
     * (KVM_GET_SUPPORTED_CPUID) adjusted by {@link #cpuid}, boot MSRs, FPU and LAPIC LINT pins.
     */
    public static void configure(VcpuFd vcpu, List<CpuidEntry> supported, int index, int count) {
        configure(vcpu, supported, index, count, CpuTemplate.HOST);
    }

    /**
     * As {@link #configure(VcpuFd, List, int, int)}, with the guest's CPUID first filtered
     * through {@code template} (the topology is added after, so a template cannot disturb it).
     */
    public static void configure(VcpuFd vcpu, List<CpuidEntry> supported, int index, int count, CpuTemplate template) {
        vcpu.setCpuid(cpuid(template.apply(supported), index, count));
        vcpu.setMsrs(bootMsrs());
        vcpu.setFpu(VcpuFd.FCW_DEFAULT, VcpuFd.MXCSR_DEFAULT);
        vcpu.setLapic(wireLints(vcpu.getLapic()));
    }

    /**
     * The CPUID table for vCPU {@code index} of {@code count}: one core per vCPU, one thread per
     * core, all in one package; APIC ID = index. Everything else is what KVM supports, including
     * the KVM signature leaves 0x40000000+ (KVMKVMKVM, paravirt features) the guest looks for.
     *
     * <p>The extended topology leaves 0xB and 0x1F are rebuilt rather than patched: KVM reports
     * them with whatever subleaves the host has (on AMD hosts a single zeroed one), and the guest
     * needs exactly our two levels plus the terminating invalid level.
     */
    public static List<CpuidEntry> cpuid(List<CpuidEntry> supported, int index, int count) {
        if (count < 1 || count > MAX_VCPUS) {
            throw new IllegalArgumentException("vCPU count " + count + " must be 1.." + MAX_VCPUS);
        }
        if (index < 0 || index >= count) {
            throw new IllegalArgumentException("vCPU index " + index + " is not below the vCPU count " + count);
        }
        // Bits of the APIC ID that select the core within the package: ceil(log2(count)).
        int coreBits = 32 - Integer.numberOfLeadingZeros(count - 1);
        boolean amd = isAmd(supported);
        List<CpuidEntry> out = new ArrayList<>(supported.size() + 4);
        boolean leafBDone = false;
        boolean leaf1FDone = false;
        for (CpuidEntry e : supported) {
            switch (e.function()) {
                case 0x1 -> {
                    // EBX[31:24] initial APIC ID; EBX[23:16] addressable logical processor IDs in
                    // the package, valid when EDX.HTT is set. ECX[31]: running under a hypervisor.
                    int ebx = (e.ebx() & 0x0000_ffff) | (index << 24) | (count << 16);
                    int edx = count > 1 ? e.edx() | LEAF1_EDX_HTT : e.edx() & ~LEAF1_EDX_HTT;
                    out.add(e.withEbx(ebx).withEcx(e.ecx() | LEAF1_ECX_HYPERVISOR).withEdx(edx));
                }
                // Intel deterministic cache parameters; EAX[31:26] = cores per package - 1.
                case 0x4 -> out.add(cacheSharing(e, count)
                        .map(c -> c.withEax((c.eax() & 0x03ff_ffff) | ((count - 1) & 0x3f) << 26))
                        .orElse(e));
                // AMD cache topology: same EAX[25:14] sharing field as leaf 4 (APM vol 3, E.4.14).
                case 0x8000_001d -> out.add(amd ? cacheSharing(e, count).orElse(e) : e);
                case 0xb -> {
                    if (!leafBDone) {
                        out.addAll(topologyLeaf(0xb, index, count, coreBits));
                        leafBDone = true;
                    }
                }
                case 0x1f -> {
                    if (!leaf1FDone) {
                        out.addAll(topologyLeaf(0x1f, index, count, coreBits));
                        leaf1FDone = true;
                    }
                }
                // AMD: ECX[7:0] NC = cores - 1, ECX[15:12] ApicIdCoreIdSize (APM vol 3, E.4.7).
                case 0x8000_0008 -> out.add(amd ? e.withEcx((e.ecx() & ~0xf0ff) | (coreBits << 12) | (count - 1)) : e);
                // AMD: EAX extended APIC ID; EBX[7:0] compute unit (core) ID, EBX[15:8] threads
                // per compute unit - 1 = 0; ECX node 0 of 1 (APM vol 3, E.4.15).
                case 0x8000_001e -> out.add(amd ? e.withEax(index).withEbx(index & 0xff).withEcx(0) : e);
                default -> out.add(e);
            }
        }
        return List.copyOf(out);
    }

    /**
     * Leaf 4 / 0x8000001D: EAX[25:14] = logical processors sharing this cache - 1; L1 and L2 are
     * per core, L3 is shared by the package. Empty for type 0 ("no more caches").
     */
    private static Optional<CpuidEntry> cacheSharing(CpuidEntry e, int count) {
        if ((e.eax() & 0x1f) == 0) {
            return Optional.empty();
        }
        int level = (e.eax() >>> 5) & 0x7;
        int sharing = level >= 3 ? count - 1 : 0;
        return Optional.of(e.withEax((e.eax() & ~(0xfff << 14)) | (sharing & 0xfff) << 14));
    }

    /**
     * Extended topology leaf 0xB or V2 leaf 0x1F (SDM vol 2A, CPUID leaf 0BH): subleaf 0 the SMT
     * level (1 thread), subleaf 1 the core level ({@code count} processors), subleaf 2 the
     * invalid level that ends the list. EAX[4:0] = bits to shift the x2APIC ID right to reach
     * the next level's ID; EBX[15:0] = logical processors at this level; ECX[15:8] = level
     * type, ECX[7:0] = subleaf; EDX = x2APIC ID.
     */
    static List<CpuidEntry> topologyLeaf(int function, int index, int count, int coreBits) {
        int f = CpuidEntry.FLAG_SIGNIFICANT_INDEX;
        return List.of(
                new CpuidEntry(function, 0, f, 0, 1, TOPOLOGY_LEVEL_SMT << 8, index),
                new CpuidEntry(function, 1, f, coreBits, count, TOPOLOGY_LEVEL_CORE << 8 | 1, index),
                new CpuidEntry(function, 2, f, 0, 0, 2, index));
    }

    private static boolean isAmd(List<CpuidEntry> supported) {
        for (CpuidEntry e : supported) {
            if (e.function() == 0) {
                // Leaf 0 vendor string in EBX, EDX, ECX: "AuthenticAMD" (or Hygon's "HygonGenuine").
                String vendor = new String(ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
                        .putInt(e.ebx()).putInt(e.edx()).putInt(e.ecx()).array(), java.nio.charset.StandardCharsets.US_ASCII);
                return vendor.equals("AuthenticAMD") || vendor.equals("HygonGenuine");
            }
        }
        return false;
    }

    /**
     * MSRs at boot, as firmware would leave them for a 64-bit kernel: SYSENTER and SYSCALL
     * targets zero (the kernel sets its own), KERNEL_GS_BASE 0, TSC 0 (all vCPUs start in sync),
     * fast strings on, MTRRs enabled with write-back as the default type (without it Linux
     * maps all RAM uncached and boots very slowly).
     */
    public static Map<Integer, Long> bootMsrs() {
        Map<Integer, Long> msrs = new LinkedHashMap<>();
        msrs.put(MSR_IA32_SYSENTER_CS, 0L);
        msrs.put(MSR_IA32_SYSENTER_ESP, 0L);
        msrs.put(MSR_IA32_SYSENTER_EIP, 0L);
        msrs.put(MSR_STAR, 0L);
        msrs.put(MSR_CSTAR, 0L);
        msrs.put(MSR_KERNEL_GS_BASE, 0L);
        msrs.put(MSR_SYSCALL_MASK, 0L);
        msrs.put(MSR_LSTAR, 0L);
        msrs.put(MSR_IA32_TSC, 0L);
        msrs.put(MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING);
        msrs.put(MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WB);
        return msrs;
    }

    /**
     * LVT LINT0 = ExtINT, masked, and LINT1 = NMI: the virtual-wire wiring of the MP specification
     * (§3.6.2.2, §5.1) and Intel SDM vol 3 §11.5.1, with the 8259's path into the CPU closed.
     *
     * <p>Why masked: KVM unmasks LINT0 on the boot vCPU at reset (its LINT0_REENABLED quirk), and
     * Linux keeps whatever it finds there (arch/x86/kernel/apic/apic.c, setup_local_APIC: an
     * unmasked LVT0 stays "enabled ExtINT on CPU#0"). On hardware-reduced ACPI Linux never
     * initialises the 8259 (legacy_pic is the null PIC), so the in-kernel PIC keeps its reset state:
     * vector base 0, nothing masked. Every ISA interrupt a device raises (the keyboard's IRQ 1, the
     * UART's IRQ 4) also reaches that PIC and would arrive through LINT0 as vector 0-15 — a CPU
     * exception vector — and the guest died with a triple fault. A BIOS would have programmed
     * the PIC; without one, LINT0 starts masked. Linux unmasks it itself where it uses the PIC
     * through the local APIC (pic_mode, or the 8259 timer fallback in check_timer).
     * Only the delivery mode and, for LINT0, the mask bit change; trigger bits stay as KVM set them.
     */
    /** LVT mask bit (bit 16): the entry delivers nothing. */
    static final int APIC_LVT_MASKED = 1 << 16;

    public static byte[] wireLints(byte[] lapic) {
        if (lapic.length != VcpuFd.LAPIC_SIZE) {
            throw new IllegalArgumentException("LAPIC state is " + VcpuFd.LAPIC_SIZE + " bytes, got " + lapic.length);
        }
        byte[] out = lapic.clone();
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(APIC_LVT_LINT0, (b.getInt(APIC_LVT_LINT0) & ~APIC_DELIVERY_MODE_MASK) | APIC_MODE_EXTINT << 8
                | APIC_LVT_MASKED);
        b.putInt(APIC_LVT_LINT1, (b.getInt(APIC_LVT_LINT1) & ~APIC_DELIVERY_MODE_MASK) | APIC_MODE_NMI << 8);
        return out;
    }
}
