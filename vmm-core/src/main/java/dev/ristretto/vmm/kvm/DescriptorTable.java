package dev.ristretto.vmm.kvm;

/** {@code struct kvm_dtable}: the GDTR or IDTR (linear base and 16-bit limit). */
public record DescriptorTable(long base, int limit) {

    public DescriptorTable {
        if (limit < 0 || limit > 0xffff) {
            throw new IllegalArgumentException("descriptor table limit " + limit + " does not fit in 16 bits");
        }
    }

    public DescriptorTable withBase(long v) {
        return new DescriptorTable(v, limit);
    }

    public DescriptorTable withLimit(int v) {
        return new DescriptorTable(base, v);
    }
}
