package dev.ristretto.firmware.elf;

import dev.ristretto.firmware.BootCpuState;
import dev.ristretto.firmware.BootParams;
import dev.ristretto.firmware.BootPlan;
import dev.ristretto.firmware.E820Entry;
import dev.ristretto.firmware.Initrd;
import dev.ristretto.firmware.Layout;
import dev.ristretto.firmware.LinuxBootPlan;
import dev.ristretto.firmware.MemoryLayout;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Where everything for a 64-bit ELF-entry boot goes and the boot vCPU's state: the result of
 * {@link ElfBoot#plan}. Immutable. The low structures (command line, zero page, page tables,
 * GDT, TSS) sit at the same {@link Layout} addresses as in a bzImage boot.
 */
public final class ElfBootPlan extends BootPlan {
    private final ElfKernel kernel;
    private final GuestAddress entry;

    ElfBootPlan(MemoryLayout memory, ElfKernel kernel, GuestAddress entry, Optional<Initrd> initrd,
                Optional<GuestAddress> initrdAddress, byte[] cmdline, Optional<GuestAddress> acpiRsdp) {
        super(memory, initrd, initrdAddress, cmdline, acpiRsdp);
        this.kernel = Objects.requireNonNull(kernel);
        this.entry = Objects.requireNonNull(entry);
    }

    private ElfBootPlan(ElfBootPlan plan, GuestAddress rsdp) {
        super(plan, rsdp);
        this.kernel = plan.kernel;
        this.entry = plan.entry;
    }

    /** This plan with boot_params.acpi_rsdp_addr pointing at {@code rsdp} (zero-page.rst, 0x070). */
    @Override
    public ElfBootPlan withAcpiRsdp(GuestAddress rsdp) {
        return new ElfBootPlan(this, rsdp);
    }

    public ElfKernel kernel() {
        return kernel;
    }

    /** The 64-bit entry point (e_entry). */
    public GuestAddress entryAddress() {
        return entry;
    }

    public GuestAddress zeroPageAddress() {
        return Layout.ZERO_PAGE;
    }

    /** The e820 map handed to the kernel. */
    public List<E820Entry> e820() {
        return memory().e820();
    }

    /** The zero page this plan writes. */
    public byte[] bootParams() {
        return zeroPage(BootParams.forHeaderlessKernel(ElfBoot.CMDLINE_MAX));
    }

    /**
     * Writes the kernel's segments, the initrd, the command line, the zero page and the long-mode
     * tables into guest RAM.
     *
     * @throws dev.ristretto.firmware.BootSetupException when the initrd file cannot be read any more
     */
    @Override
    public void writeTo(GuestMemory guest) {
        kernel.copyTo(guest);
        writeInitrdAndCmdline(guest);
        guest.write(Layout.ZERO_PAGE, bootParams());
        LinuxBootPlan.writeLongModeTables(guest);
    }

    /** The boot vCPU's state: long mode at e_entry, %rsi = zero page. */
    public BootCpuState entry() {
        return BootCpuState.longModeEntry(entry, Layout.ZERO_PAGE);
    }

    @Override
    protected String describeKernel() {
        return "kernel " + kernel.start() + ".." + kernel.end() + ", entry " + entry;
    }
}
