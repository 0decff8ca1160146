package dev.ristretto.vmm.kvm;

/**
 * One {@code struct kvm_cpuid_entry2}: the registers CPUID returns for (function, index).
 * {@code flags} holds KVM_CPUID_FLAG_SIGNIFCANT_INDEX when the index (ECX input) matters.
 */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {

    /** KVM_CPUID_FLAG_SIGNIFCANT_INDEX (sic, the header's spelling). */
    public static final int FLAG_SIGNIFICANT_INDEX = KvmAbi.KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

    public CpuidEntry withEax(int v) {
        return new CpuidEntry(function, index, flags, v, ebx, ecx, edx);
    }

    public CpuidEntry withEbx(int v) {
        return new CpuidEntry(function, index, flags, eax, v, ecx, edx);
    }

    public CpuidEntry withEcx(int v) {
        return new CpuidEntry(function, index, flags, eax, ebx, v, edx);
    }

    public CpuidEntry withEdx(int v) {
        return new CpuidEntry(function, index, flags, eax, ebx, ecx, v);
    }

    @Override
    public String toString() {
        return String.format("CPUID[%08x.%x] flags=%x eax=%08x ebx=%08x ecx=%08x edx=%08x",
                function, index, flags, eax, ebx, ecx, edx);
    }
}
