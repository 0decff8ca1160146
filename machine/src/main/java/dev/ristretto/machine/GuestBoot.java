package dev.ristretto.machine;

import dev.ristretto.firmware.BootCpuState;
import dev.ristretto.firmware.FirmwareException;
import dev.ristretto.firmware.Initrd;
import dev.ristretto.firmware.LinuxBoot;
import dev.ristretto.firmware.LinuxBootPlan;
import dev.ristretto.firmware.MemoryLayout;
import dev.ristretto.firmware.elf.BootProtocol;
import dev.ristretto.firmware.elf.ElfBoot;
import dev.ristretto.firmware.elf.ElfBootPlan;
import dev.ristretto.firmware.elf.KernelFile;
import dev.ristretto.firmware.pvh.PvhBoot;
import dev.ristretto.firmware.pvh.PvhBootPlan;
import dev.ristretto.firmware.pvh.PvhCpuState;
import dev.ristretto.vmm.kvm.DescriptorTable;
import dev.ristretto.vmm.kvm.Regs;
import dev.ristretto.vmm.kvm.Segment;
import dev.ristretto.vmm.kvm.Sregs;
import dev.ristretto.vmm.kvm.VcpuFd;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * How this machine's kernel is booted, whatever its format: the memory layout, what to write into
 * guest RAM, and the boot vCPU's entry state. Three protocols, chosen from the file (or forced with
 * --boot-protocol):
 * <ul>
 *   <li>a bzImage through its 64-bit entry (boot.rst "64-bit BOOT PROTOCOL", RSI = boot_params);</li>
 *   <li>an ELF vmlinux through e_entry in 64-bit mode, with the same boot_params (as Firecracker);</li>
 *   <li>an ELF with the XEN_ELFNOTE_PHYS32_ENTRY note through PVH: 32-bit protected mode, paging
 *       off, EBX = hvm_start_info (Xen's docs/misc/pvh.pandoc).</li>
 * </ul>
 * Everything here is computed before KVM is touched, so a bad kernel costs no VM.
 */
record GuestBoot(BootProtocol protocol, MemoryLayout memory, Consumer<GuestMemory> writer, Entry entry) {

    /** The boot vCPU's registers at the kernel's entry point, in KVM's terms. */
    record Entry(Segment cs, Segment data, Segment tr, DescriptorTable gdt, DescriptorTable idt,
                 long cr0, long cr3, long cr4, long efer, Regs regs) {
    }

    /** Loads the kernel and initrd and plans the boot; firmware errors become usage errors. */
    static GuestBoot plan(MachineConfig config, Optional<GuestAddress> rsdp) {
        try {
            KernelFile file = KernelFile.load(config.kernel());
            Optional<BootProtocol> forced = Optional.ofNullable(config.bootProtocol()).map(BootProtocol::fromCliName);
            BootProtocol protocol = file.protocol(forced);
            Optional<Initrd> initrd = Optional.ofNullable(config.initrd()).map(Initrd::of);
            MemoryLayout layout = MemoryLayout.forRam(config.memory().bytes());
            return switch (file) {
                case KernelFile.BzImageFile(var image) -> {
                    LinuxBootPlan p = LinuxBoot.plan(layout, image, initrd, config.append());
                    LinuxBootPlan q = rsdp.map(p::withAcpiRsdp).orElse(p);
                    yield new GuestBoot(protocol, layout, q::writeTo, longMode(q.entry()));
                }
                case KernelFile.ElfFile(var elf) when protocol == BootProtocol.PVH -> {
                    PvhBootPlan p = PvhBoot.plan(layout, elf, initrd, config.append());
                    PvhBootPlan q = rsdp.map(p::withAcpiRsdp).orElse(p);
                    yield new GuestBoot(protocol, layout, q::writeTo, pvh(q.entry()));
                }
                case KernelFile.ElfFile(var elf) -> {
                    ElfBootPlan p = ElfBoot.plan(layout, elf, initrd, config.append());
                    ElfBootPlan q = rsdp.map(p::withAcpiRsdp).orElse(p);
                    yield new GuestBoot(protocol, layout, q::writeTo, longMode(q.entry()));
                }
            };
        } catch (FirmwareException e) {
            throw new SetupException(SetupException.Kind.USAGE, e.getMessage(), e);
        }
    }

    private static Entry longMode(BootCpuState s) {
        return new Entry(segment(s.cs()), segment(s.ds()), segment(s.tr()), table(s.gdt()), table(s.idt()),
                s.cr0(), s.cr3(), s.cr4(), s.efer(),
                Regs.initial().withRip(s.rip()).withRsp(s.rsp()).withRsi(s.rsi()).withRflags(s.rflags()));
    }

    private static Entry pvh(PvhCpuState s) {
        return new Entry(segment(s.cs()), segment(s.ds()), segment(s.tr()), table(s.gdt()), table(s.idt()),
                s.cr0(), s.cr3(), s.cr4(), s.efer(),
                Regs.initial().withRip(s.rip()).withRsp(s.rsp()).withRbx(s.rbx()).withRflags(s.rflags()));
    }

    private static Segment segment(dev.ristretto.firmware.Segment f) {
        return new Segment(f.base(), (int) f.limit(), f.selector(), f.type(), f.present(), f.dpl(), f.db(), f.s(),
                f.l(), f.g(), f.avl(), false);
    }

    private static DescriptorTable table(dev.ristretto.firmware.DescriptorTable t) {
        return new DescriptorTable(t.base().value(), t.limit());
    }

    /** Puts the boot vCPU at the entry point; everything KVM set up that we do not name stays as it was. */
    void enter(VcpuFd bsp) {
        Sregs sregs = bsp.getSregs()
                .withCs(entry.cs())
                .withDataSegments(entry.data())
                .withTr(entry.tr())
                .withGdt(entry.gdt())
                .withIdt(entry.idt())
                .withCr0(entry.cr0())
                .withCr3(entry.cr3())
                .withCr4(entry.cr4())
                .withEfer(entry.efer());
        bsp.setSregs(sregs);
        bsp.setRegs(entry.regs());
    }
}
