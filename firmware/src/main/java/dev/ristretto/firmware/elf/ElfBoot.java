package dev.ristretto.firmware.elf;

import dev.ristretto.firmware.BootSetupException;
import dev.ristretto.firmware.Cmdline;
import dev.ristretto.firmware.Initrd;
import dev.ristretto.firmware.KernelImageException;
import dev.ristretto.firmware.LinuxBoot;
import dev.ristretto.firmware.MemoryLayout;
import dev.ristretto.vmm.memory.GuestAddress;
import java.util.Objects;
import java.util.Optional;

/**
 * Plans the boot of an ELF kernel (a Linux vmlinux) through its 64-bit ELF entry point, the way
 * Firecracker boots a vmlinux: the PT_LOAD segments at their physical addresses, a zero page
 * built like the bzImage path's but with a setup header we fill in ourselves (the vmlinux has
 * none), and the vCPU in long mode at e_entry with %rsi pointing at the zero page (boot.rst
 * "64-bit BOOT PROTOCOL"). Pure: nothing is written until {@link ElfBootPlan#writeTo}.
 */
public final class ElfBoot {
    private ElfBoot() {
    }

    /**
     * The longest command line passed to an ELF kernel, without its NUL: x86 Linux's
     * COMMAND_LINE_SIZE is 2048 (arch/x86/include/asm/setup.h) and a bzImage announces 2047 as
     * its cmdline_size. A vmlinux has no header to tell us, so we hold it to the same limit
     * rather than let the kernel cut a longer line short silently.
     */
    public static final long CMDLINE_MAX = 2047;

    /**
     * initrd_addr_max for a kernel without a header: 0x7fffffff, the value every x86-64 Linux
     * bzImage declares (arch/x86/boot/header.S). The initrd's last byte stays below 2 GiB unless
     * RAM there is too small, and it never goes above 4 GiB, where ramdisk_image (32 bits) alone
     * could not describe it to a kernel that ignores the ext_ fields.
     */
    public static final long INITRD_ADDR_MAX = 0x7fff_ffffL;

    /** Plans a boot without an initrd. */
    public static ElfBootPlan plan(MemoryLayout memory, ElfKernel kernel, String cmdline) {
        return plan(memory, kernel, Optional.empty(), cmdline);
    }

    /**
     * Plans a boot.
     *
     * @throws KernelImageException when the kernel's segments do not fit this guest or its entry
     *                              point is not in its loaded image
     * @throws BootSetupException   when the command line is invalid or too long, or the initrd
     *                              does not fit
     */
    public static ElfBootPlan plan(MemoryLayout memory, ElfKernel kernel, Optional<Initrd> initrd, String cmdline) {
        Objects.requireNonNull(memory);
        Objects.requireNonNull(kernel);
        Objects.requireNonNull(initrd);
        byte[] line = Cmdline.encode(cmdline, CMDLINE_MAX);
        kernel.checkPlacement(memory);
        GuestAddress entry = kernel.entry64();
        return new ElfBootPlan(memory, kernel, entry, initrd, placeInitrd(memory, kernel, initrd), line, Optional.empty());
    }

    /**
     * Where the initrd goes for an ELF kernel, whichever way it is entered (64-bit here, or PVH):
     * above 1 MiB, clear of the kernel's segments, and as high as it fits with its last byte at
     * most {@link #INITRD_ADDR_MAX}. Never in RAM above 4 GiB: a kernel without a setup header
     * cannot announce XLF_CAN_BE_LOADED_ABOVE_4G (boot.rst, "xloadflags").
     *
     * @throws BootSetupException when the initrd does not fit
     */
    public static Optional<GuestAddress> placeInitrd(MemoryLayout memory, ElfKernel kernel, Optional<Initrd> initrd) {
        return initrd.map(rd -> LinuxBoot.placeInitrd(memory, kernel.start(), kernel.end(), INITRD_ADDR_MAX, false, rd));
    }
}
