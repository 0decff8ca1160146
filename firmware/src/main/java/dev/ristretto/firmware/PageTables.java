package dev.ristretto.firmware;

import dev.ristretto.vmm.memory.GuestAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Boot page tables, as a pure function: an identity map of the first 4 GiB with 2 MiB pages (one
 * PML4, one PDPT, four page directories). boot.rst "64-bit BOOT PROTOCOL" requires the kernel's
 * init_size span, the zero page and the command line to be identity-mapped; Ristretto keeps all of
 * them below 4 GiB, so mapping all of it (including the MMIO hole, harmlessly) covers every case.
 * Linux builds its own tables in startup_64 before it touches anything else.
 *
 * <p>Entry formats: Intel SDM Vol. 3A §4.5 "4-Level Paging" (the PML4E, PDPTE and 2-MByte PDE
 * format tables): bit 0 present, bit 1 writable, bit 7 in a PDE maps a 2 MiB page; the physical
 * address sits in bits 51:12 (51:21 for a 2 MiB page).
 */
public final class PageTables {
    private PageTables() {
    }

    static final long PRESENT = 1L;
    static final long WRITABLE = 1L << 1;
    static final long PAGE_SIZE_2M = 1L << 7;

    /** Number of page directories: each maps 1 GiB with 512 entries of 2 MiB. */
    public static final int PAGE_DIRECTORIES = 4;

    /** Bytes of the whole structure: PML4, PDPT and the page directories, contiguous. */
    public static final int SIZE = (2 + PAGE_DIRECTORIES) * 4096;

    /**
     * The tables for a PML4 at {@code pml4}: the PDPT follows at +4 KiB and the page directories
     * at +8 KiB..+24 KiB. Returns the {@link #SIZE} bytes to write at {@code pml4}.
     */
    public static byte[] identityMap4GiB(GuestAddress pml4) {
        if (!pml4.isAligned(4096)) {
            throw new IllegalArgumentException("PML4 at " + pml4 + " is not page-aligned");
        }
        long pdpt = pml4.value() + 4096;
        long firstPd = pdpt + 4096;
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, pdpt | PRESENT | WRITABLE);
        for (int i = 0; i < PAGE_DIRECTORIES; i++) {
            b.putLong(4096 + i * 8, (firstPd + i * 4096L) | PRESENT | WRITABLE);
        }
        for (int i = 0; i < PAGE_DIRECTORIES * 512; i++) {
            long physical = (long) i << 21;
            b.putLong(2 * 4096 + i * 8, physical | PRESENT | WRITABLE | PAGE_SIZE_2M);
        }
        return b.array();
    }
}
