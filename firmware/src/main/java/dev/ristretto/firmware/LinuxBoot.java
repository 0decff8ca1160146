package dev.ristretto.firmware;

import dev.ristretto.vmm.memory.GuestAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Plans a Linux boot through the 64-bit boot protocol (Linux Documentation/arch/x86/boot.rst):
 * where the kernel's protected-mode payload and the initrd go, and checks that everything fits.
 * Pure: nothing is written until {@link LinuxBootPlan#writeTo}.
 */
public final class LinuxBoot {
    private LinuxBoot() {
    }

    /** Plans a boot without an initrd. */
    public static LinuxBootPlan plan(MemoryLayout memory, BzImage kernel, String cmdline) {
        return plan(memory, kernel, Optional.empty(), cmdline);
    }

    /** Plans a boot with {@code initrd}. */
    public static LinuxBootPlan plan(MemoryLayout memory, BzImage kernel, Initrd initrd, String cmdline) {
        return plan(memory, kernel, Optional.of(initrd), cmdline);
    }

    /**
     * Plans a boot.
     *
     * @throws BootSetupException when the command line is invalid or too long for the kernel, or
     *                            when the kernel or the initrd does not fit in guest RAM
     */
    public static LinuxBootPlan plan(MemoryLayout memory, BzImage kernel, Optional<Initrd> initrd, String cmdline) {
        Objects.requireNonNull(memory);
        Objects.requireNonNull(kernel);
        byte[] line = Cmdline.encode(cmdline, kernel.cmdlineSize());
        GuestAddress kernelAddress = placeKernel(memory, kernel);
        GuestAddress kernelEnd = kernelAddress.checkedAdd(kernel.initSize());
        Optional<GuestAddress> initrdAddress = initrd.map(rd -> placeInitrd(memory, kernel, kernelAddress, kernelEnd, rd));
        return new LinuxBootPlan(memory, kernel, kernelAddress, initrd, initrdAddress, line, Optional.empty());
    }

    /**
     * The protected-mode load address. The kernel decompresses itself in place and needs init_size
     * bytes from there (boot.rst, "init_size"), all in low RAM, which our page tables identity-map.
     * A relocatable kernel goes to pref_address when that fits — the address its build prefers,
     * which spares it a relocation — and otherwise to the lowest kernel_alignment boundary above
     * 1 MiB. A non-relocatable kernel always decompresses to its link address, pref_address
     * (arch/x86/boot/compressed/head_64.S uses LOAD_PHYSICAL_ADDR without CONFIG_RELOCATABLE), so
     * it is loaded exactly there.
     */
    static GuestAddress placeKernel(MemoryLayout memory, BzImage kernel) {
        long lowEnd = memory.lowRamEnd().value();
        long floor = Layout.HIGH_MEMORY_START.value();
        long initSize = kernel.initSize();
        List<Long> candidates = new ArrayList<>(2);
        long pref = kernel.prefAddress();
        if (kernel.relocatable()) {
            long align = kernel.kernelAlignment();
            if (pref >= floor && (pref & (align - 1)) == 0) {
                candidates.add(pref);
            }
            candidates.add(GuestAddress.of(floor).alignUp(align).value());
        } else {
            // pref_address is a guest-supplied u64: compare unsigned, and keep it where the sum
            // below cannot overflow.
            if (Long.compareUnsigned(pref, floor) < 0 || Long.compareUnsigned(pref, Layout.MMIO_HOLE_START.value()) >= 0) {
                throw new BootSetupException("kernel " + kernel.name() + ": not relocatable and its pref_address 0x"
                        + Long.toHexString(pref) + " lies outside low RAM (1 MiB to 3 GiB), where it would have to run;"
                        + " use a relocatable kernel (CONFIG_RELOCATABLE=y)");
            }
            candidates.add(pref);
        }
        for (long at : candidates) {
            if (at <= lowEnd && initSize <= lowEnd - at) {
                return GuestAddress.of(at);
            }
        }
        long lowest = candidates.getLast();
        long needed = Math.addExact(lowest, initSize);
        String need = needed <= Layout.MMIO_HOLE_START.value()
                ? "raise --memory to at least " + mibCeil(needed) + " MiB"
                : "no guest memory size can fit it below the 3 GiB MMIO hole";
        throw new BootSetupException("kernel " + kernel.name() + " needs " + mib(initSize) + " (init_size) from its load"
                + " address 0x" + Long.toHexString(lowest) + ", but the " + MemoryLayout.describe(memory.ramBytes())
                + " guest's low RAM ends at 0x" + Long.toHexString(lowEnd) + "; " + need);
    }

    /**
     * The initrd address: page-aligned, clear of the first MiB and of the kernel's init_size span,
     * and as high as possible — boot.rst ("initrd_addr_max") asks loaders to put it high so the
     * kernel's decompression and early allocations below it have room. The initrd's last byte
     * must not pass initrd_addr_max. Only when it does not fit there and the kernel sets
     * XLF_CAN_BE_LOADED_ABOVE_4G do we place it at the top of RAM above 4 GiB (the address then
     * goes in ext_ramdisk_image); keeping it low otherwise stays on the path every loader takes.
     */
    static GuestAddress placeInitrd(MemoryLayout memory, BzImage kernel, GuestAddress kernelStart,
                                    GuestAddress kernelEnd, Initrd initrd) {
        // In a larger guest a relocatable kernel may move up to pref_address, so size the advice
        // for the highest place the kernel can end up.
        long kernelTop = kernelEnd.value();
        if (kernel.relocatable() && kernel.prefAddress() > kernelStart.value()) {
            kernelTop = Math.max(kernelTop, kernel.prefAddress() + kernel.initSize());
        }
        return placeInitrd(memory, kernelStart, kernelEnd, kernelTop, kernel.initrdAddrMax(), kernel.canLoadAbove4G(),
                initrd);
    }

    /**
     * The initrd address for a kernel that occupies {@code [kernelStart, kernelEnd)} and takes an
     * initrd whose last byte is at most {@code initrdAddrMax}, by the rules of
     * {@link #placeInitrd(MemoryLayout, BzImage, GuestAddress, GuestAddress, Initrd)}; for loaders
     * of kernels without a setup header (ELF, PVH).
     *
     * @param canLoadAbove4G whether the initrd may go above 4 GiB when it does not fit below
     *                       {@code initrdAddrMax}
     * @throws BootSetupException when the initrd fits nowhere, naming the memory size that would do
     */
    public static GuestAddress placeInitrd(MemoryLayout memory, GuestAddress kernelStart, GuestAddress kernelEnd,
                                           long initrdAddrMax, boolean canLoadAbove4G, Initrd initrd) {
        return placeInitrd(memory, kernelStart, kernelEnd, kernelEnd.value(), initrdAddrMax, canLoadAbove4G, initrd);
    }

    private static GuestAddress placeInitrd(MemoryLayout memory, GuestAddress kernelStart, GuestAddress kernelEnd,
                                            long kernelTop, long initrdAddrMax, boolean canLoadAbove4G, Initrd initrd) {
        long size = initrd.size();
        // initrd_addr_max names the highest byte; +1 gives the exclusive limit (never overflows: u32).
        long limit = initrdAddrMax + 1;
        List<long[]> free = freeRanges(memory, kernelStart.value(), kernelEnd.value());
        List<long[]> belowMax = new ArrayList<>();
        List<long[]> above4G = new ArrayList<>();
        for (long[] r : free) {
            if (r[0] < limit) {
                belowMax.add(new long[] {r[0], Math.min(r[1], limit)});
            }
            if (canLoadAbove4G && r[0] >= Layout.HIGH_RAM_START.value()) {
                above4G.add(r);
            }
        }
        Optional<Long> at = highestFit(belowMax, size);
        if (at.isEmpty()) {
            at = highestFit(above4G, size);
        }
        if (at.isPresent()) {
            return GuestAddress.of(at.get());
        }
        long largest = 0;
        for (List<long[]> ranges : List.of(belowMax, above4G)) {
            for (long[] r : ranges) {
                largest = Math.max(largest, r[1] - r[0]);
            }
        }
        long span = GuestAddress.of(size).alignUp(Layout.PAGE_SIZE).value();
        long lowNeeded = kernelTop + span;
        String fix;
        if (lowNeeded <= Math.min(limit, Layout.MMIO_HOLE_START.value())) {
            fix = "raise --memory to at least " + mibCeil(lowNeeded) + " MiB";
        } else if (canLoadAbove4G) {
            fix = "raise --memory to at least " + mibCeil(Layout.MMIO_HOLE_START.value() + span) + " MiB";
        } else {
            fix = "this kernel cannot take an initrd that large below its initrd_addr_max 0x"
                    + Long.toHexString(initrdAddrMax) + "; use a smaller initrd";
        }
        throw new BootSetupException("initrd " + initrd.name() + " is " + mib(size) + " but the largest free RAM for it in the "
                + MemoryLayout.describe(memory.ramBytes()) + " guest is " + mib(largest)
                + " (the kernel takes 0x" + Long.toHexString(kernelStart.value()) + "..0x"
                + Long.toHexString(kernelEnd.value()) + "); " + fix);
    }

    /** Usable e820 RAM from 1 MiB up, minus the kernel's span, as [start, end) pairs ascending. */
    private static List<long[]> freeRanges(MemoryLayout memory, long kernelStart, long kernelEnd) {
        List<long[]> out = new ArrayList<>();
        for (E820Entry e : memory.e820()) {
            if (e.type() != E820Entry.Type.RAM) {
                continue;
            }
            long start = Math.max(e.start().value(), Layout.HIGH_MEMORY_START.value());
            long end = e.end().value();
            if (start >= end) {
                continue;
            }
            if (kernelEnd <= start || kernelStart >= end) {
                out.add(new long[] {start, end});
            } else {
                if (start < kernelStart) {
                    out.add(new long[] {start, kernelStart});
                }
                if (kernelEnd < end) {
                    out.add(new long[] {kernelEnd, end});
                }
            }
        }
        return out;
    }

    /** The highest page-aligned start such that [start, start+size) lies inside one of the ranges. */
    private static Optional<Long> highestFit(List<long[]> ranges, long size) {
        long pageMask = Layout.PAGE_SIZE - 1;
        for (int i = ranges.size() - 1; i >= 0; i--) {
            long start = ranges.get(i)[0];
            long end = ranges.get(i)[1];
            if (end - start < size) {
                continue;
            }
            long at = (end - size) & ~pageMask;
            if (at >= start) {
                return Optional.of(at);
            }
        }
        return Optional.empty();
    }

    private static String mib(long bytes) {
        return String.format("%.1f MiB", bytes / (double) Layout.MIB);
    }

    private static long mibCeil(long bytes) {
        return (bytes + Layout.MIB - 1) / Layout.MIB;
    }
}
