package dev.ristretto.firmware;

import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Where everything for a Linux boot goes and what the boot vCPU must look like: the result of
 * {@link LinuxBoot#plan}. Immutable; {@link #writeTo(GuestMemory)} puts kernel, initrd, command
 * line, zero page, page tables and GDT into guest RAM, and {@link #entry()} gives the register
 * state for the 64-bit entry.
 */
public final class LinuxBootPlan extends BootPlan {
    /** boot.rst "64-bit BOOT PROTOCOL": the 64-bit entry is 0x200 past the protected-mode load address. */
    static final long ENTRY_64_OFFSET = 0x200;

    private final BzImage kernel;
    private final GuestAddress kernelAddress;

    LinuxBootPlan(MemoryLayout memory, BzImage kernel, GuestAddress kernelAddress, Optional<Initrd> initrd,
                  Optional<GuestAddress> initrdAddress, byte[] cmdline, Optional<GuestAddress> acpiRsdp) {
        super(memory, initrd, initrdAddress, cmdline, acpiRsdp);
        this.kernel = Objects.requireNonNull(kernel);
        this.kernelAddress = Objects.requireNonNull(kernelAddress);
    }

    private LinuxBootPlan(LinuxBootPlan plan, GuestAddress rsdp) {
        super(plan, rsdp);
        this.kernel = plan.kernel;
        this.kernelAddress = plan.kernelAddress;
    }

    /**
     * This plan with boot_params.acpi_rsdp_addr pointing at {@code rsdp}, for when the machine
     * has written ACPI tables (zero-page.rst, offset 0x070).
     */
    @Override
    public LinuxBootPlan withAcpiRsdp(GuestAddress rsdp) {
        return new LinuxBootPlan(this, rsdp);
    }

    public BzImage kernel() {
        return kernel;
    }

    /** Where the protected-mode payload is loaded. */
    public GuestAddress kernelAddress() {
        return kernelAddress;
    }

    /** The first address after the kernel's init_size span, which nothing else may use. */
    public GuestAddress kernelEnd() {
        return kernelAddress.checkedAdd(kernel.initSize());
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
        return zeroPage(BootParams.forImage(kernel));
    }

    /**
     * Writes everything the kernel expects to find in RAM at its 64-bit entry: kernel, initrd,
     * command line, zero page, page tables and GDT.
     *
     * @throws BootSetupException when the initrd file cannot be read any more
     */
    @Override
    public void writeTo(GuestMemory guest) {
        kernel.copyPayloadTo(guest.slice(kernelAddress, kernel.payloadLength()));
        writeInitrdAndCmdline(guest);
        guest.write(Layout.ZERO_PAGE, bootParams());
        writeLongModeTables(guest);
    }

    /**
     * Writes the structures {@link BootCpuState#longModeEntry} points at: the identity-mapping
     * page tables at {@link Layout#PML4}, the GDT at {@link Layout#GDT} and a zeroed TSS at
     * {@link Layout#BOOT_TSS}. Every 64-bit entry (bzImage or ELF) needs exactly these.
     */
    public static void writeLongModeTables(GuestMemory guest) {
        guest.write(Layout.PML4, PageTables.identityMap4GiB(Layout.PML4));
        guest.write(Layout.GDT, Gdt.bytes(Layout.BOOT_TSS));
        guest.write(Layout.BOOT_TSS, new byte[(int) Layout.BOOT_TSS_SIZE]);
    }

    /** The boot vCPU's register state for the 64-bit entry point (boot.rst "64-bit BOOT PROTOCOL"). */
    public BootCpuState entry() {
        return BootCpuState.longModeEntry(kernelAddress.checkedAdd(ENTRY_64_OFFSET), Layout.ZERO_PAGE);
    }

    @Override
    protected String describeKernel() {
        return "kernel at " + kernelAddress + ".." + kernelEnd();
    }
}
