package dev.ristretto.firmware;

import dev.ristretto.vmm.memory.GuestAddress;
import java.util.Objects;

/**
 * One entry of the BIOS e820 memory map as Linux reads it from boot_params (struct boot_e820_entry,
 * arch/x86/include/uapi/asm/bootparam.h: u64 addr, u64 size, u32 type; 20 bytes, packed).
 */
public record E820Entry(GuestAddress start, long size, Type type) {

    /** Size in bytes of one entry in the zero page's e820 table. */
    public static final int BYTES = 20;

    /** Address range types (ACPI 6.5 §15, "Address Range Types" table; the same
     * values Linux uses in arch/x86/include/asm/e820/types.h). */
    public enum Type {
        /** AddressRangeMemory: available to the OS. */
        RAM(1),
        /** AddressRangeReserved: in use or reserved by the system. */
        RESERVED(2),
        /** AddressRangeACPI: ACPI reclaimable memory. */
        ACPI(3),
        /** AddressRangeNVS: ACPI NVS memory. */
        NVS(4);

        private final int code;

        Type(int code) {
            this.code = code;
        }

        /** The numeric type written into the e820 table. */
        public int code() {
            return code;
        }
    }

    public E820Entry {
        Objects.requireNonNull(start);
        Objects.requireNonNull(type);
        if (size <= 0) {
            throw new IllegalArgumentException("e820 entry at " + start + " has size " + size);
        }
        start.checkedAdd(size);
    }

    /** The first address after this entry. */
    public GuestAddress end() {
        return start.checkedAdd(size);
    }

    @Override
    public String toString() {
        return "[" + start + "-" + end() + ") " + type;
    }
}
