package dev.ristretto.firmware;

import dev.ristretto.vmm.memory.GuestAddress;

/**
 * Every fixed guest-physical address Ristretto uses, in one place, each with the reason it is
 * where it is. The low structures (GDT, zero page, page tables, command line) sit in conventional
 * memory below the EBDA: the 64-bit boot protocol (Linux Documentation/arch/x86/boot.rst, "64-bit
 * BOOT PROTOCOL") only asks that they be identity-mapped. Linux copies boot_params and the command
 * line out first thing (arch/x86/kernel/head64.c, copy_bootdata), switches to its own page
 * tables and GDT, and keeps the whole first MiB out of its allocator (arch/x86/kernel/setup.c,
 * setup_arch: "always reserve the first 1M of RAM", Linux 5.13+), so nothing here is handed out
 * while it is still in use.
 *
 * <pre>
 *   0x0000_0000  real-mode IVT and BIOS data area (left zero; nothing reads them on a 64-bit entry)
 *   0x0000_0500  GDT (48 bytes) 0x0000_0600  boot TSS (104 bytes)
 *   0x0000_6000  PVH start_info, module list and memory map (PVH boots only)
 *   0x0000_7000  zero page      0x0000_8000  boot stack page 0x0000_9000  page tables (6 pages)
 *   0x0002_0000  command line (64 KiB)
 *   0x0009_fc00  EBDA ... 0x000f_ffff BIOS area (reserved in e820; ACPI/MP tables at 0xe0000)
 *   0x0010_0000  high memory: kernel default load address, then RAM up to 0xc000_0000
 *   0xc000_0000  32-bit MMIO hole (IOAPIC, LAPIC, KVM's TSS and identity-map pages) up to 4 GiB
 *   0x1_0000_0000 the rest of RAM
 * </pre>
 */
public final class Layout {
    private Layout() {
    }

    public static final long KIB = 1024;
    public static final long MIB = 1024 * KIB;
    public static final long GIB = 1024 * MIB;

    /** x86 base page size; e820 entries, RAM sizes and the initrd are aligned to it. */
    public static final long PAGE_SIZE = 4 * KIB;

    /**
     * Boot GDT. 0x500 is the first byte after the BIOS data area (0x400–0x4ff), the traditional
     * start of free conventional memory. 48 bytes: null, null, code64, data, 16-byte TSS.
     */
    public static final GuestAddress GDT = GuestAddress.of(0x500);

    /**
     * A zeroed 104-byte 64-bit TSS for TR. Nothing switches stacks through it before Linux loads
     * its own TR, but VM entry demands a present busy TSS in TR (Intel SDM Vol. 3C, VM entry
     * "Checks on Guest Segment Registers": TR must be a present busy TSS), so it must describe
     * real, otherwise unused memory.
     */
    public static final GuestAddress BOOT_TSS = GuestAddress.of(0x600);

    /** Size of a 64-bit TSS (Intel SDM Vol. 3A, "Task Management in 64-bit Mode"): 0x68 bytes. */
    public static final long BOOT_TSS_SIZE = 0x68;

    /**
     * The zero page (struct boot_params, 4 KiB; Linux Documentation/arch/x86/zero-page.rst). It
     * may be anywhere identity-mapped; a page of its own in low memory keeps it clear of
     * everything else.
     */
    public static final GuestAddress ZERO_PAGE = GuestAddress.of(0x7000);

    /**
     * The PVH boot's hvm_start_info, followed in the same page by its module list and memory map
     * (Xen xen/include/public/arch-x86/hvm/start_info.h). A PVH boot has no zero page, so this
     * page plays its part: low, identity-addressable with paging off, and inside the first MiB
     * that Linux reserves from its allocator before it has copied the structure out
     * (arch/x86/platform/pvh/enlighten.c, xen_prepare_pvh copies pvh_start_info first thing).
     */
    public static final GuestAddress PVH_START_INFO = GuestAddress.of(0x6000);

    /**
     * Initial stack pointer: top of the page 0x8000–0x8fff, 16-byte aligned with a little slack.
     * The kernel's startup_64 switches to its own stack at once; this one only has to be valid
     * memory in case anything is pushed before that.
     */
    public static final GuestAddress BOOT_STACK_POINTER = GuestAddress.of(0x8ff0);

    /** PML4 of the boot page tables; the PDPT follows at +4 KiB and the four PDs after it. */
    public static final GuestAddress PML4 = GuestAddress.of(0x9000);

    /** PDPT of the boot page tables (one page after the PML4). */
    public static final GuestAddress PDPT = GuestAddress.of(0xa000);

    /** First of the four page directories (0xb000–0xefff), one per GiB of the identity map. */
    public static final GuestAddress PD = GuestAddress.of(0xb000);

    /**
     * Kernel command line. 64 KiB is far above any kernel's COMMAND_LINE_SIZE (2048 on x86 by
     * default) and still well below the EBDA.
     */
    public static final GuestAddress CMDLINE = GuestAddress.of(0x20000);

    /** Bytes reserved for the command line at {@link #CMDLINE}, including its terminating NUL. */
    public static final long CMDLINE_MAX_SIZE = 0x10000;

    /**
     * Start of the Extended BIOS Data Area: the last 1 KiB below 640 KiB, as on a PC with 639 KiB
     * of conventional memory. From here to 1 MiB is reserved in the e820 map (EBDA, VGA window,
     * option ROMs, BIOS).
     */
    public static final GuestAddress EBDA_START = GuestAddress.of(0x9fc00);

    /**
     * Start of the BIOS area 0xe0000–0xfffff. The ACPI RSDP must lie in it (ACPI 6.5 §5.2.5.1,
     * "Finding the RSDP on IA-PC Systems": the OS scans 0xe0000–0xfffff), and the MP floating
     * pointer is searched there too (Intel MultiProcessor Specification 1.4 §4, "MP Floating Pointer Structure"), so the ACPI and MP tables live in this area.
     */
    public static final GuestAddress BIOS_AREA_START = GuestAddress.of(0xe0000);

    /** First byte after the BIOS area, which is also where high memory begins. */
    public static final GuestAddress BIOS_AREA_END = GuestAddress.of(0x100000);

    /** The ACPI and MP tables area: the whole BIOS area (see {@link #BIOS_AREA_START}). */
    public static final GuestAddress ACPI_TABLES_START = BIOS_AREA_START;

    /** First byte after the ACPI and MP tables area. */
    public static final GuestAddress ACPI_TABLES_END = BIOS_AREA_END;

    /**
     * The x86 reset vector, F000:FFF0 (Intel SDM vol 3 §9.1.4: the first instruction fetched after
     * RESET). There is no BIOS here, so {@link ResetVector} puts a stub there that resets the
     * machine: a kernel that "reboots through the BIOS" (Linux's machine_real_restart, which Linux
     * picks on hardware-reduced ACPI without EFI) jumps here and must not run into zeroes.
     */
    public static final GuestAddress RESET_VECTOR = GuestAddress.of(0xffff0);

    /**
     * 1 MiB: the start of high memory and the default protected-mode kernel load address for
     * kernels that are not relocatable and predate pref_address (boot.rst, "code32_start").
     */
    public static final GuestAddress HIGH_MEMORY_START = GuestAddress.of(0x100000);

    /** Default kernel load address (boot.rst: "loaded at 0x100000" for bzImage). */
    public static final GuestAddress KERNEL_DEFAULT_LOAD = HIGH_MEMORY_START;

    /**
     * Start of the 32-bit MMIO hole. Low RAM stops here (3 GiB) so that 32-bit PCI BARs, the
     * IOAPIC, the LAPIC and the framebuffer have room below 4 GiB; the rest of RAM moves above
     * 4 GiB.
     */
    public static final GuestAddress MMIO_HOLE_START = GuestAddress.of(0xc000_0000L);

    /** End of the 32-bit MMIO hole: 4 GiB, where high RAM starts. */
    public static final GuestAddress MMIO_HOLE_END = GuestAddress.of(4 * GIB);

    /** Where high RAM (the part of RAM that does not fit below the hole) starts. */
    public static final GuestAddress HIGH_RAM_START = MMIO_HOLE_END;

    /**
     * The 32-bit PCI memory window: where BARs are placed, from the start of the MMIO hole. 512 MiB
     * is room for hundreds of virtio devices (32 KiB each); the PCI host bridge's _CRS announces it.
     */
    public static final GuestAddress PCI_MMIO32 = GuestAddress.of(0xc000_0000L);
    public static final long PCI_MMIO32_SIZE = 0x2000_0000L;

    /**
     * PCI Express ECAM (enhanced configuration access, PCI Firmware spec 3.2 §4.1.2 MCFG): 1 MiB
     * per bus; Ristretto has only bus 0. After the 32-bit window, below the IOAPIC.
     */
    public static final GuestAddress PCI_ECAM = GuestAddress.of(0xe000_0000L);
    public static final int PCI_ECAM_BUSES = 1;

    /** I/O ports the PCI host bridge hands out for I/O BARs (above every legacy ISA device). */
    public static final int PCI_IO_WINDOW = 0xc000;
    public static final int PCI_IO_WINDOW_SIZE = 0x4000;

    /**
     * The IOAPIC pins PCI INTx lines are routed to (GSI 16-23, the in-kernel IOAPIC's upper eight
     * pins; level-triggered, active low per the _PRT, ACPI 6.5 §6.2.13).
     */
    public static final int PCI_INTX_GSI_BASE = 16;
    public static final int PCI_INTX_GSI_COUNT = 8;

    /** IOAPIC MMIO base: the architectural default (Intel 82093AA I/O APIC datasheet; announced to the guest
     * in the ACPI MADT). */
    public static final GuestAddress IOAPIC = GuestAddress.of(0xfec0_0000L);

    /** Local APIC MMIO base: the architectural reset value of IA32_APIC_BASE (Intel SDM Vol. 3A,
     * "Local APIC Status and Location"). */
    public static final GuestAddress LAPIC = GuestAddress.of(0xfee0_0000L);

    /**
     * KVM_SET_TSS_ADDR: three pages Intel VMX uses to emulate real mode (KVM
     * Documentation/virt/kvm/api.rst, KVM_SET_TSS_ADDR). Must not be RAM the guest uses; it sits in the MMIO
     * hole just below the BIOS flash window, where QEMU and Firecracker put it too.
     */
    public static final GuestAddress KVM_TSS = GuestAddress.of(0xfffb_d000L);

    /** KVM_SET_IDENTITY_MAP_ADDR: one page just below {@link #KVM_TSS} (api.rst, KVM_SET_IDENTITY_MAP_ADDR). */
    public static final GuestAddress KVM_IDENTITY_MAP = GuestAddress.of(0xfffb_c000L);

    /** Smallest guest Ristretto accepts: the low structures, a kernel and an initramfs need room. */
    public static final long MIN_RAM = 32 * MIB;

    /**
     * Largest guest Ristretto accepts: 1 TiB, a sanity bound that keeps every address we compute
     * far from overflow and inside the 40+ guest-physical address bits of current x86 hosts. The
     * machine still has to check the host's actual width (CPUID 0x80000008) before mapping RAM.
     */
    public static final long MAX_RAM = 1024 * GIB;
}
