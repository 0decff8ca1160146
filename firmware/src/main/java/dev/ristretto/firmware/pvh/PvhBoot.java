package dev.ristretto.firmware.pvh;

import dev.ristretto.firmware.BootSetupException;
import dev.ristretto.firmware.Cmdline;
import dev.ristretto.firmware.Initrd;
import dev.ristretto.firmware.KernelImageException;
import dev.ristretto.firmware.MemoryLayout;
import dev.ristretto.firmware.elf.ElfBoot;
import dev.ristretto.firmware.elf.ElfKernel;
import dev.ristretto.vmm.memory.GuestAddress;
import java.util.Objects;
import java.util.Optional;

/**
 * Plans a boot through the PVH boot ABI (Xen docs/misc/pvh.pandoc), the direct-boot protocol
 * QEMU, Firecracker and Cloud Hypervisor use for ELF kernels that carry a
 * XEN_ELFNOTE_PHYS32_ENTRY note: the PT_LOAD segments at their physical addresses, an
 * hvm_start_info page describing the command line, memory map, initrd and RSDP, and the vCPU in
 * 32-bit protected mode at the note's entry with EBX pointing at start_info. Pure: nothing is
 * written until {@link PvhBootPlan#writeTo}.
 */
public final class PvhBoot {
    private PvhBoot() {
    }

    /** Plans a boot without an initrd. */
    public static PvhBootPlan plan(MemoryLayout memory, ElfKernel kernel, String cmdline) {
        return plan(memory, kernel, Optional.empty(), cmdline);
    }

    /**
     * Plans a boot. The command line limit and initrd placement are those of the 64-bit ELF
     * boot ({@link ElfBoot#CMDLINE_MAX}, {@link ElfBoot#placeInitrd}); the initrd never goes
     * above 4 GiB in any case, since the kernel starts with paging off and 32-bit addresses.
     *
     * @throws KernelImageException when the kernel has no PVH note or its segments do not fit
     * @throws BootSetupException   when the command line is invalid or too long, or the initrd
     *                              does not fit
     */
    public static PvhBootPlan plan(MemoryLayout memory, ElfKernel kernel, Optional<Initrd> initrd, String cmdline) {
        Objects.requireNonNull(memory);
        Objects.requireNonNull(kernel);
        Objects.requireNonNull(initrd);
        GuestAddress entry = kernel.requirePvhEntry();
        byte[] line = Cmdline.encode(cmdline, ElfBoot.CMDLINE_MAX);
        kernel.checkPlacement(memory);
        return new PvhBootPlan(memory, kernel, entry, initrd, ElfBoot.placeInitrd(memory, kernel, initrd), line,
                Optional.empty());
    }
}
