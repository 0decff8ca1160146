package dev.ristretto.firmware;

import dev.ristretto.firmware.elf.ElfBootPlan;
import dev.ristretto.firmware.pvh.PvhBootPlan;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import java.util.Objects;
import java.util.Optional;

/**
 * What every boot protocol Ristretto speaks hands the kernel in the same way: the guest's memory
 * layout, the NUL-terminated command line at {@link Layout#CMDLINE}, an optional initrd at the
 * address its planner chose, and an optional ACPI RSDP address. The three protocols differ only
 * in the kernel image, the structure that points at all this (boot_params for the 64-bit Linux
 * entry, boot.rst; hvm_start_info for PVH, pvh.pandoc) and the vCPU state at entry, which the
 * subclasses own. Immutable.
 */
public abstract sealed class BootPlan permits LinuxBootPlan, ElfBootPlan, PvhBootPlan {
    private final MemoryLayout memory;
    private final Optional<Initrd> initrd;
    private final Optional<GuestAddress> initrdAddress;
    private final byte[] cmdline;
    private final Optional<GuestAddress> acpiRsdp;

    protected BootPlan(MemoryLayout memory, Optional<Initrd> initrd, Optional<GuestAddress> initrdAddress,
                       byte[] cmdline, Optional<GuestAddress> acpiRsdp) {
        this.memory = Objects.requireNonNull(memory);
        this.initrd = Objects.requireNonNull(initrd);
        this.initrdAddress = Objects.requireNonNull(initrdAddress);
        this.cmdline = Objects.requireNonNull(cmdline);
        this.acpiRsdp = Objects.requireNonNull(acpiRsdp);
        if (initrd.isPresent() != initrdAddress.isPresent()) {
            throw new IllegalArgumentException("initrd and its address must be given together");
        }
    }

    /** A copy of {@code plan} that points the kernel at the RSDP at {@code rsdp}. */
    protected BootPlan(BootPlan plan, GuestAddress rsdp) {
        this(plan.memory, plan.initrd, plan.initrdAddress, plan.cmdline, Optional.of(Objects.requireNonNull(rsdp)));
    }

    /** This plan with the kernel told where the RSDP is, for when the machine has written ACPI tables. */
    public abstract BootPlan withAcpiRsdp(GuestAddress rsdp);

    /**
     * Writes everything the kernel expects to find in RAM at its entry point.
     *
     * @throws BootSetupException when the initrd file cannot be read any more
     */
    public abstract void writeTo(GuestMemory guest);

    public MemoryLayout memory() {
        return memory;
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

    public Optional<GuestAddress> acpiRsdp() {
        return acpiRsdp;
    }

    /**
     * Writes the initrd and the command line, the part of {@link #writeTo} that is the same for
     * every protocol.
     *
     * @throws BootSetupException when the initrd file cannot be read any more
     */
    protected final void writeInitrdAndCmdline(GuestMemory guest) {
        if (initrd.isPresent()) {
            Initrd rd = initrd.get();
            rd.copyTo(guest.slice(initrdAddress.orElseThrow(), rd.size()));
        }
        guest.write(Layout.CMDLINE, cmdline);
    }

    /**
     * The zero page for a 64-bit Linux entry (boot.rst "64-bit BOOT PROTOCOL"): {@code header}'s
     * setup header with this plan's command line, e820 map, initrd and RSDP filled in
     * (zero-page.rst). Used by the bzImage and the ELF entry, which differ only in where the
     * setup header comes from.
     */
    protected final byte[] zeroPage(BootParams header) {
        BootParams params = header.cmdline(Layout.CMDLINE).e820(memory.e820());
        initrdAddress.ifPresent(a -> params.ramdisk(a, initrdSize()));
        acpiRsdp.ifPresent(params::acpiRsdpAddr);
        return params.toBytes();
    }

    /** Where the kernel lies, for {@link #toString()}: "kernel at A..B" or the like. */
    protected abstract String describeKernel();

    @Override
    public final String toString() {
        return getClass().getSimpleName() + "[" + describeKernel() + initrdAddress
                .map(a -> ", initrd at " + a + "+0x" + Long.toHexString(initrdSize())).orElse("")
                + ", cmdline " + (cmdline.length - 1) + " bytes]";
    }
}
