package dev.ristretto.firmware;

import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.RamRange;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a guest's RAM lives and the e820 map that describes it to the guest. RAM is split around
 * the 32-bit MMIO hole: up to 3 GiB below {@link Layout#MMIO_HOLE_START}, the rest from 4 GiB up.
 * The machine mmaps {@link #ramRanges()} one KVM memory slot each; the firmware hands
 * {@link #e820()} to the kernel.
 *
 * @param ramBytes  total guest RAM in bytes
 * @param ramRanges the RAM ranges in ascending order (one or two)
 * @param e820      the e820 map in ascending order
 */
public record MemoryLayout(long ramBytes, List<RamRange> ramRanges, List<E820Entry> e820) {

    public MemoryLayout {
        ramRanges = List.copyOf(ramRanges);
        e820 = List.copyOf(e820);
    }

    /**
     * The layout for a guest with {@code bytes} of RAM.
     *
     * @throws BootSetupException when {@code bytes} is below 32 MiB, above 1 TiB or not a multiple
     *                            of 4 KiB
     */
    public static MemoryLayout forRam(long bytes) {
        if (bytes < Layout.MIN_RAM) {
            throw new BootSetupException("guest memory of " + describe(bytes) + " is too small: Ristretto needs at least "
                    + (Layout.MIN_RAM / Layout.MIB) + " MiB (raise --memory)");
        }
        if (bytes % Layout.PAGE_SIZE != 0) {
            throw new BootSetupException("guest memory of " + bytes + " bytes is not a multiple of 4 KiB (the x86 page size);"
                    + " give --memory in whole MiB");
        }
        if (bytes > Layout.MAX_RAM) {
            throw new BootSetupException("guest memory of " + describe(bytes) + " is too large: Ristretto supports at most "
                    + (Layout.MAX_RAM / Layout.GIB) + " GiB (lower --memory)");
        }
        long holeStart = Layout.MMIO_HOLE_START.value();
        long low = Math.min(bytes, holeStart);
        long high = bytes - low;

        List<RamRange> ram = new ArrayList<>(2);
        ram.add(new RamRange(GuestAddress.of(0), low));
        if (high > 0) {
            ram.add(new RamRange(Layout.HIGH_RAM_START, high));
        }

        // ACPI 6.5 §15 and boot.rst: the conventional memory below the EBDA is usable; the EBDA,
        // the VGA window, option ROMs and the BIOS area up to 1 MiB are reserved (our ACPI and MP
        // tables live there, and Linux must not hand that memory out); everything from 1 MiB to
        // the hole and from 4 GiB up is usable RAM. The MMIO hole is simply absent from the map.
        List<E820Entry> map = new ArrayList<>(4);
        map.add(new E820Entry(GuestAddress.of(0), Layout.EBDA_START.value(), E820Entry.Type.RAM));
        map.add(new E820Entry(Layout.EBDA_START, Layout.HIGH_MEMORY_START.offsetFrom(Layout.EBDA_START),
                E820Entry.Type.RESERVED));
        map.add(new E820Entry(Layout.HIGH_MEMORY_START, low - Layout.HIGH_MEMORY_START.value(), E820Entry.Type.RAM));
        if (high > 0) {
            map.add(new E820Entry(Layout.HIGH_RAM_START, high, E820Entry.Type.RAM));
        }
        return new MemoryLayout(bytes, ram, map);
    }

    /** The first address after RAM below the MMIO hole. */
    public GuestAddress lowRamEnd() {
        return ramRanges.getFirst().end();
    }

    /** The first address after the highest RAM. */
    public GuestAddress ramEnd() {
        return ramRanges.getLast().end();
    }

    /** A size as people write it: "6 GiB", "256 MiB", or bytes when neither divides it. */
    static String describe(long bytes) {
        if (bytes > 0 && bytes % Layout.GIB == 0) {
            return (bytes / Layout.GIB) + " GiB";
        }
        if (bytes % Layout.MIB == 0) {
            return (bytes / Layout.MIB) + " MiB";
        }
        return bytes + " bytes";
    }
}
