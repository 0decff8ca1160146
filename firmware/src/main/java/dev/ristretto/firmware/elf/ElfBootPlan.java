package dev.ristretto.firmware.elf;

import dev.ristretto.firmware.BootCpuState;
import dev.ristretto.firmware.BootParams;
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
public final class ElfBootPlan {
    private final MemoryLayout memory;
    private final ElfKernel kernel;
    private final GuestAddress entry;
    private final Optional<Initrd> initrd;
    private final Optional<GuestAddress> initrdAddress;
    private final byte[] cmdline;
    private final Optional<GuestAddress> acpiRsdp;

    ElfBootPlan(MemoryLayout memory, ElfKernel kernel, GuestAddress entry, Optional<Initrd> initrd,
                Optional<GuestAddress> initrdAddress, byte[] cmdline, Optional<GuestAddress> acpiRsdp) {
        this.memory = Objects.requireNonNull(memory);
        this.kernel = Objects.requireNonNull(kernel);
        this.entry = Objects.requireNonNull(entry);
        this.initrd = Objects.requireNonNull(initrd);
        this.initrdAddress = Objects.requireNonNull(initrdAddress);
        this.cmdline = Objects.requireNonNull(cmdline);
        this.acpiRsdp = Objects.requireNonNull(acpiRsdp);
        if (initrd.isPresent() != initrdAddress.isPresent()) {
            throw new IllegalArgumentException("initrd and its address must be given together");
        }
    }

    /** This plan with boot_params.acpi_rsdp_addr pointing at {@code rsdp} (zero-page.rst, 0x070). */
    public ElfBootPlan withAcpiRsdp(GuestAddress rsdp) {
        return new ElfBootPlan(memory, kernel, entry, initrd, initrdAddress, cmdline, Optional.of(Objects.requireNonNull(rsdp)));
    }

    public MemoryLayout memory() {
        return memory;
    }

    public ElfKernel kernel() {
        return kernel;
    }

    /** The 64-bit entry point (e_entry). */
    public GuestAddress entryAddress() {
        return entry;
    }

    /** Where the initrd goes, when there is one. */
    public Optional<GuestAddress> initrdAddress() {
        return initrdAddress;
    }

    /** Size of the initrd in bytes (0 without one). */
    public long initrdSize() {
        return initrd.map(Initrd::size).orElse(0L);
    }

    public GuestAddress cmdlineAddress() {
        return Layout.CMDLINE;
    }

    /** The command line bytes as written, terminating NUL included. */
    public byte[] cmdlineBytes() {
        return cmdline.clone();
    }

    public GuestAddress zeroPageAddress() {
        return Layout.ZERO_PAGE;
    }

    /** The e820 map handed to the kernel. */
    public List<E820Entry> e820() {
        return memory.e820();
    }

    public Optional<GuestAddress> acpiRsdp() {
        return acpiRsdp;
    }

    /** The zero page this plan writes. */
    public byte[] bootParams() {
        BootParams params = BootParams.forHeaderlessKernel(ElfBoot.CMDLINE_MAX).cmdline(Layout.CMDLINE).e820(memory.e820());
        initrdAddress.ifPresent(a -> params.ramdisk(a, initrdSize()));
        acpiRsdp.ifPresent(params::acpiRsdpAddr);
        return params.toBytes();
    }

    /**
     * Writes the kernel's segments, the initrd, the command line, the zero page and the long-mode
     * tables into guest RAM.
     *
     * @throws dev.ristretto.firmware.BootSetupException when the initrd file cannot be read any more
     */
    public void writeTo(GuestMemory guest) {
        kernel.copyTo(guest);
        if (initrd.isPresent()) {
            Initrd rd = initrd.get();
            rd.copyTo(guest.slice(initrdAddress.orElseThrow(), rd.size()));
        }
        guest.write(Layout.CMDLINE, cmdline);
        guest.write(Layout.ZERO_PAGE, bootParams());
        LinuxBootPlan.writeLongModeTables(guest);
    }

    /** The boot vCPU's state: long mode at e_entry, %rsi = zero page. */
    public BootCpuState entry() {
        return BootCpuState.longModeEntry(entry, Layout.ZERO_PAGE);
    }

    @Override
    public String toString() {
        return "ElfBootPlan[kernel " + kernel.start() + ".." + kernel.end() + ", entry " + entry + initrdAddress
                .map(a -> ", initrd at " + a + "+0x" + Long.toHexString(initrdSize())).orElse("")
                + ", cmdline " + (cmdline.length - 1) + " bytes]";
    }
}
