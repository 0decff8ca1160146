package dev.ristretto.firmware;

import dev.ristretto.vmm.memory.GuestAddress;
import java.util.Objects;

/**
 * A GDTR or IDTR value: the table's linear base and its limit (size in bytes minus one;
 * Intel SDM Vol. 3A, "Segment Descriptor Tables" and
 * "Interrupt Descriptor Table (IDT)").
 */
public record DescriptorTable(GuestAddress base, int limit) {

    public DescriptorTable {
        Objects.requireNonNull(base);
        if ((limit & ~0xffff) != 0) {
            throw new IllegalArgumentException("descriptor table limit " + limit + " does not fit 16 bits");
        }
    }
}
