package dev.ristretto.firmware.elf;

import dev.ristretto.vmm.memory.GuestAddress;

/**
 * One PT_LOAD program header of an ELF kernel, already checked against the file: {@code fileSize}
 * bytes from {@code fileOffset} go to guest-physical {@code physicalAddress}, and the rest of
 * {@code memorySize} is zero-filled (System V gABI, "Program Header": p_offset, p_paddr,
 * p_filesz, p_memsz).
 *
 * @param fileOffset      p_offset
 * @param physicalAddress p_paddr, where the segment is loaded
 * @param fileSize        p_filesz, never more than {@code memorySize}
 * @param memorySize      p_memsz, greater than zero
 * @param flags           p_flags (PF_X 1, PF_W 2, PF_R 4)
 */
public record LoadSegment(long fileOffset, GuestAddress physicalAddress, long fileSize, long memorySize, int flags) {

    public LoadSegment {
        if (fileOffset < 0 || fileSize < 0 || memorySize <= 0 || fileSize > memorySize) {
            throw new IllegalArgumentException("bad load segment: offset " + fileOffset + ", filesz " + fileSize
                    + ", memsz " + memorySize);
        }
        physicalAddress.checkedAdd(memorySize);
    }

    /** The first guest-physical address after the segment's memory image. */
    public GuestAddress end() {
        return physicalAddress.checkedAdd(memorySize);
    }

    /** True when the file bytes of this segment hold guest-physical address {@code a}. */
    boolean loadsFromFile(long a) {
        long start = physicalAddress.value();
        return Long.compareUnsigned(a, start) >= 0 && Long.compareUnsigned(a - start, fileSize) < 0;
    }

    @Override
    public String toString() {
        return "PT_LOAD[" + physicalAddress + ".." + end() + ", file 0x" + Long.toHexString(fileOffset) + "+0x"
                + Long.toHexString(fileSize) + "]";
    }
}
