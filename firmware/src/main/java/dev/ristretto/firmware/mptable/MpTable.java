package dev.ristretto.firmware.mptable;

import dev.ristretto.vmm.memory.GuestAddress;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The Intel MultiProcessor Specification 1.4 tables: the 16-byte MP Floating Pointer Structure
 * followed directly by the MP Configuration Table. Kernels built with X86_MPPARSE (Debian's
 * generic kernel) use it when ACPI is off or absent; the ACPI MADT supersedes it otherwise.
 *
 * <p>The caller chooses the address. Linux looks for the floating pointer in the first KiB of the
 * EBDA, the last KiB of base memory, and 0xF0000-0xFFFFF (MP spec §4; arch/x86/kernel/mpparse.c
 * {@code find_smp_config}), on a 16-byte boundary.
 *
 * <p>Interrupt routing is the PC's, in virtual-wire mode through the local APIC (§3.6.2.2):
 * ISA IRQ n goes to IOAPIC pin n except IRQ0 (the PIT), which the KVM IOAPIC, like every PC
 * chipset, has on pin 2; the IRQ2 cascade of the 8259s has no ISA source and gets no entry (pin 2
 * is IRQ0's). The 8259 output (ExtINT) goes to LINT0 and NMI to LINT1 of every local APIC.
 */
public final class MpTable {

    public static final int FLOATING_POINTER_SIZE = 16;
    public static final int CONFIG_HEADER_SIZE = 44;
    public static final int PROCESSOR_ENTRY_SIZE = 20;
    public static final int SHORT_ENTRY_SIZE = 8;
    /** IRQ0-15 without the IRQ2 cascade. */
    public static final int IO_INTERRUPT_ENTRIES = 15;
    public static final int LOCAL_INTERRUPT_ENTRIES = 2;

    /** MP spec revision 1.4 is encoded as 4 (Table 4-1, SPEC_REV; Table 4-2). */
    public static final int SPEC_REV = 4;

    // Entry types, Table 4-3.
    public static final int ENTRY_PROCESSOR = 0;
    public static final int ENTRY_BUS = 1;
    public static final int ENTRY_IO_APIC = 2;
    public static final int ENTRY_IO_INTERRUPT = 3;
    public static final int ENTRY_LOCAL_INTERRUPT = 4;

    // Interrupt types, Table 4-9.
    static final int INT_TYPE_INT = 0;
    static final int INT_TYPE_NMI = 1;
    static final int INT_TYPE_EXTINT = 3;

    /**
     * Local APIC version of an integrated xAPIC (0x14, as KVM's local APIC reports). With an
     * xAPIC the IOAPIC's id need not differ from the processors' ids: interrupts travel on the
     * system bus, not the 3-wire APIC bus that needed unique ids (Linux io_apic_unique_id only
     * enforces uniqueness for pre-xAPIC Intel parts).
     */
    static final int LOCAL_APIC_VERSION = 0x14;
    /** IOAPIC version of the 82093AA and of KVM's IOAPIC model. */
    static final int IO_APIC_VERSION = 0x11;
    /** CPU signature: family 6 (stepping/model 0), Table 4-5. */
    static final int CPU_SIGNATURE = 6 << 8;
    /** CPUID.1 EDX feature flags: FPU (bit 0) and on-chip APIC (bit 9), Table 4-5. */
    static final int CPU_FEATURES = (1 << 0) | (1 << 9);
    static final int ISA_BUS_ID = 0;

    private MpTable() {
    }

    /** Total bytes (floating pointer + configuration table) for {@code vcpuCount} processors. */
    public static int size(int vcpuCount) {
        return FLOATING_POINTER_SIZE + configTableSize(vcpuCount);
    }

    static int configTableSize(int vcpuCount) {
        return CONFIG_HEADER_SIZE + PROCESSOR_ENTRY_SIZE * vcpuCount
                + SHORT_ENTRY_SIZE * (2 + IO_INTERRUPT_ENTRIES + LOCAL_INTERRUPT_ENTRIES);
    }

    /** Entry count of the configuration table (header field ENTRY COUNT). */
    public static int entryCount(int vcpuCount) {
        return vcpuCount + 2 + IO_INTERRUPT_ENTRIES + LOCAL_INTERRUPT_ENTRIES;
    }

    /**
     * The floating pointer at {@code address} and the configuration table right after it.
     * {@code address} must be 16-byte aligned and the tables must end below 4 GiB (the pointer
     * field is 32 bits).
     */
    public static byte[] build(MpConfig config, GuestAddress address) {
        if (!address.isAligned(16)) {
            throw new MpTableException("MP table address " + address + " is not 16-byte"
                    + " aligned, as the floating pointer must be (MP spec 1.4 §4.1).");
        }
        int total = size(config.vcpuCount());
        if (Long.compareUnsigned(address.checkedAdd(total).value(), 1L << 32) > 0) {
            throw new MpTableException("MP table at " + address + " would end above 4 GiB; the"
                    + " floating pointer holds a 32-bit address, so place it lower.");
        }
        ByteBuffer b = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        long configAddress = address.value() + FLOATING_POINTER_SIZE;

        // MP Floating Pointer Structure, §4.1 Table 4-1.
        b.put("_MP_".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        b.putInt((int) configAddress);
        b.put((byte) 1);          // LENGTH in 16-byte paragraphs
        b.put((byte) SPEC_REV);
        b.put((byte) 0);          // CHECKSUM, below
        b.put((byte) 0);          // FEATURE1 = 0: a configuration table is present
        b.put((byte) 0);          // FEATURE2 bit 7 IMCRP = 0: virtual-wire mode, no IMCR
        b.put(new byte[3]);       // FEATURE3-5 reserved
        b.put(10, checksum(b.array(), 0, FLOATING_POINTER_SIZE));

        // MP Configuration Table header, §4.2 Table 4-2.
        int start = FLOATING_POINTER_SIZE;
        int vcpus = config.vcpuCount();
        b.put("PCMP".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        b.putShort((short) configTableSize(vcpus)); // BASE TABLE LENGTH
        b.put((byte) SPEC_REV);
        b.put((byte) 0);                             // CHECKSUM, below
        b.put(ascii(config.oemId(), 8));
        b.put(ascii(config.productId(), 12));
        b.putInt(0);                                 // OEM TABLE POINTER: none
        b.putShort((short) 0);                       // OEM TABLE SIZE
        b.putShort((short) entryCount(vcpus));
        b.putInt((int) config.localApicAddress());
        b.putShort((short) 0);                       // EXTENDED TABLE LENGTH: none
        b.put((byte) 0);                             // EXTENDED TABLE CHECKSUM
        b.put((byte) 0);                             // reserved

        // Processor entries, §4.3.1 Table 4-4/4-5: flags bit 0 EN, bit 1 BP.
        for (int cpu = 0; cpu < vcpus; cpu++) {
            b.put((byte) ENTRY_PROCESSOR);
            b.put((byte) cpu);
            b.put((byte) LOCAL_APIC_VERSION);
            b.put((byte) (cpu == 0 ? 0x03 : 0x01));
            b.putInt(CPU_SIGNATURE);
            b.putInt(CPU_FEATURES);
            b.putLong(0);                            // reserved
        }
        // Bus entry, §4.3.2 Table 4-6: bus 0 is ISA ("ISA" padded with spaces to 6).
        b.put((byte) ENTRY_BUS).put((byte) ISA_BUS_ID).put(ascii("ISA", 6));
        // I/O APIC entry, §4.3.3 Table 4-7: flags bit 0 EN.
        b.put((byte) ENTRY_IO_APIC).put((byte) config.ioApicId()).put((byte) IO_APIC_VERSION)
                .put((byte) 1).putInt((int) config.ioApicAddress());
        // I/O interrupt assignments, §4.3.4 Table 4-8: flags 0 = polarity and trigger conform
        // to the ISA bus (active high, edge).
        for (int irq = 0; irq < 16; irq++) {
            if (irq == 2) {
                continue;
            }
            int pin = irq == 0 ? 2 : irq;
            interrupt(b, ENTRY_IO_INTERRUPT, INT_TYPE_INT, irq, config.ioApicId(), pin);
        }
        // Local interrupt assignments, §4.3.5 Table 4-10: destination 0xFF = every local APIC.
        interrupt(b, ENTRY_LOCAL_INTERRUPT, INT_TYPE_EXTINT, 0, 0xff, 0);
        interrupt(b, ENTRY_LOCAL_INTERRUPT, INT_TYPE_NMI, 0, 0xff, 1);

        if (b.position() != total) {
            throw new IllegalStateException("MP table size mismatch: wrote " + b.position()
                    + " of " + total);
        }
        b.put(start + 7, checksum(b.array(), start, total));
        return b.array();
    }

    /** An 8-byte I/O or local interrupt entry (Tables 4-8, 4-10 share the layout). */
    private static void interrupt(ByteBuffer b, int entryType, int intType, int sourceIrq,
            int destApic, int destPin) {
        b.put((byte) entryType);
        b.put((byte) intType);
        b.putShort((short) 0);           // polarity and trigger conform to the bus
        b.put((byte) ISA_BUS_ID);        // source bus
        b.put((byte) sourceIrq);
        b.put((byte) destApic);
        b.put((byte) destPin);
    }

    /** Both MP checksums make their structure's bytes sum to zero (§4.1, §4.2). */
    static byte checksum(byte[] data, int from, int to) {
        int sum = 0;
        for (int i = from; i < to; i++) {
            sum += data[i] & 0xff;
        }
        return (byte) -sum;
    }

    private static byte[] ascii(String s, int width) {
        byte[] out = new byte[width];
        for (int i = 0; i < width; i++) {
            out[i] = (byte) (i < s.length() ? s.charAt(i) : ' ');
        }
        return out;
    }
}
