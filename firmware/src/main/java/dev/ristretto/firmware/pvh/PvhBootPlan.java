package dev.ristretto.firmware.pvh;

import dev.ristretto.firmware.BootCpuState;
import dev.ristretto.firmware.BootPlan;
import dev.ristretto.firmware.DescriptorTable;
import dev.ristretto.firmware.E820Entry;
import dev.ristretto.firmware.Gdt;
import dev.ristretto.firmware.Initrd;
import dev.ristretto.firmware.Layout;
import dev.ristretto.firmware.MemoryLayout;
import dev.ristretto.firmware.Segment;
import dev.ristretto.firmware.elf.ElfKernel;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Where everything for a PVH boot goes and the boot vCPU's state: the result of
 * {@link PvhBoot#plan}. Immutable. The command line and GDT use the same {@link Layout}
 * addresses as the 64-bit boots; start_info and its tables take {@link Layout#PVH_START_INFO}.
 */
public final class PvhBootPlan extends BootPlan {
    private final ElfKernel kernel;
    private final GuestAddress entry;

    PvhBootPlan(MemoryLayout memory, ElfKernel kernel, GuestAddress entry, Optional<Initrd> initrd,
                Optional<GuestAddress> initrdAddress, byte[] cmdline, Optional<GuestAddress> acpiRsdp) {
        super(memory, initrd, initrdAddress, cmdline, acpiRsdp);
        this.kernel = Objects.requireNonNull(kernel);
        this.entry = Objects.requireNonNull(entry);
    }

    private PvhBootPlan(PvhBootPlan plan, GuestAddress rsdp) {
        super(plan, rsdp);
        this.kernel = plan.kernel;
        this.entry = plan.entry;
    }

    /** This plan with start_info.rsdp_paddr pointing at {@code rsdp}, for when ACPI tables exist. */
    @Override
    public PvhBootPlan withAcpiRsdp(GuestAddress rsdp) {
        return new PvhBootPlan(this, rsdp);
    }

    public ElfKernel kernel() {
        return kernel;
    }

    /** The 32-bit entry point from XEN_ELFNOTE_PHYS32_ENTRY. */
    public GuestAddress entryAddress() {
        return entry;
    }

    public GuestAddress startInfoAddress() {
        return Layout.PVH_START_INFO;
    }

    /** The memory map handed to the kernel (the same ranges as the e820 map of a Linux boot). */
    public List<E820Entry> memoryMap() {
        return memory().e820();
    }

    /** The start_info page this plan writes at {@link #startInfoAddress()}. */
    public byte[] startInfoPage() {
        Optional<StartInfo.Module> module = initrdAddress().map(a -> new StartInfo.Module(a, initrdSize()));
        return StartInfo.page(Layout.PVH_START_INFO, Layout.CMDLINE, module, memory().e820(), acpiRsdp());
    }

    /**
     * Writes the kernel's segments, the initrd, the command line, the start_info page and the
     * GDT into guest RAM. No page tables: PVH enters with paging off.
     *
     * @throws dev.ristretto.firmware.BootSetupException when the initrd file cannot be read any more
     */
    @Override
    public void writeTo(GuestMemory guest) {
        kernel.copyTo(guest);
        writeInitrdAndCmdline(guest);
        guest.write(Layout.PVH_START_INFO, startInfoPage());
        guest.write(Layout.GDT, PvhGdt.bytes());
    }

    /** The boot vCPU's state for the PVH entry (pvh.pandoc). */
    public PvhCpuState entry() {
        Segment data = PvhGdt.dataSegment();
        return new PvhCpuState(
                entry.value(),
                Layout.PVH_START_INFO.value(),
                Layout.BOOT_STACK_POINTER.value(),
                BootCpuState.RFLAGS_RESERVED,
                // Xen's own domain builder sets PE | ET for a PVH guest (tools/libs/guest,
                // xc_dom_x86.c); ET is read-only 1 on current CPUs anyway.
                BootCpuState.CR0_PE | BootCpuState.CR0_ET,
                0,
                0,
                0,
                Gdt.register(Layout.GDT),
                // No IDT, as for the 64-bit entry: interrupts are off and the kernel loads its own.
                new DescriptorTable(GuestAddress.of(0), 0),
                PvhGdt.codeSegment(), data, data, data, data, data,
                PvhGdt.taskSegment());
    }

    @Override
    protected String describeKernel() {
        return "kernel " + kernel.start() + ".." + kernel.end() + ", entry " + entry;
    }
}
