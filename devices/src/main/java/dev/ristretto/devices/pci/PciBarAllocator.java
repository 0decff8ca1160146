package dev.ristretto.devices.pci;

/**
 * Places BARs before the guest runs, as firmware would: each BAR naturally aligned (a BAR
 * decodes an aligned power-of-two range, PCI Local Bus 3.0 §6.2.5.1) in the window for its
 * kind, first fit from the bottom. The machine chooses the windows and describes the same ones
 * to the guest in the host bridge's _CRS, so Linux keeps our assignment:
 * <ul>
 * <li>a 32-bit memory window in the MMIO hole below the IOAPIC (0xFEC0_0000) and LAPIC
 *     (0xFEE0_0000), clear of the ECAM window;
 * <li>a 64-bit memory window above the end of RAM (64-bit BARs go there; when the machine gives
 *     none, they share the 32-bit window);
 * <li>an I/O window, above the legacy ISA ports (Linux allocates PCI I/O from 0x1000 up,
 *     PCIBIOS_MIN_IO).
 * </ul>
 * Not thread-safe: used once, while the machine is assembled.
 */
public final class PciBarAllocator {

    /** [base, base + size) of guest-physical or I/O space. */
    public record Window(String name, long base, long size) {
        public Window {
            if (size <= 0 || base < 0 || base + size < base) {
                throw new IllegalArgumentException("PCI window " + name + " at 0x" + Long.toHexString(base)
                        + "+0x" + Long.toHexString(size) + " is empty or wraps");
            }
        }

        long end() {
            return base + size;
        }
    }

    private final Window mmio32;
    private final Window mmio64;
    private final Window io;
    private long next32;
    private long next64;
    private long nextIo;

    /** @param mmio64 may be null: 64-bit BARs then go in the 32-bit window */
    public PciBarAllocator(Window mmio32, Window mmio64, Window io) {
        if (mmio32.end() > 1L << 32) {
            throw new IllegalArgumentException("32-bit PCI window " + mmio32.name() + " ends above 4 GiB");
        }
        if (io.end() > 0x10000) {
            throw new IllegalArgumentException("PCI I/O window " + io.name() + " ends above port 0xffff");
        }
        this.mmio32 = mmio32;
        this.mmio64 = mmio64;
        this.io = io;
        this.next32 = mmio32.base();
        this.next64 = mmio64 == null ? 0 : mmio64.base();
        this.nextIo = io.base();
    }

    /** Allocates every BAR of {@code device} and programs its addresses. */
    public void assign(PciDevice device) {
        for (PciBar bar : device.bars()) {
            device.setBarAddress(bar.index(), allocate(device.name(), bar));
        }
    }

    /** Returns a naturally aligned address for {@code bar}; throws when its window is full. */
    public long allocate(String owner, PciBar bar) {
        switch (bar.kind()) {
            case IO -> {
                long at = alignUp(nextIo, bar.size());
                check(owner, bar, io, at);
                nextIo = at + bar.size();
                return at;
            }
            case MEMORY64 -> {
                if (mmio64 != null) {
                    long at = alignUp(next64, bar.size());
                    check(owner, bar, mmio64, at);
                    next64 = at + bar.size();
                    return at;
                }
                return allocate32(owner, bar);
            }
            default -> {
                return allocate32(owner, bar);
            }
        }
    }

    private long allocate32(String owner, PciBar bar) {
        long at = alignUp(next32, bar.size());
        check(owner, bar, mmio32, at);
        next32 = at + bar.size();
        return at;
    }

    private static void check(String owner, PciBar bar, Window w, long at) {
        if (at < w.base() || at + bar.size() > w.end() || at + bar.size() < at) {
            throw new PciResourceException(owner + ": BAR " + bar.index() + " (0x" + Long.toHexString(bar.size())
                    + " bytes) does not fit in the PCI window " + w.name() + " at 0x" + Long.toHexString(w.base())
                    + "+0x" + Long.toHexString(w.size()) + "; use fewer devices or a larger window");
        }
    }

    private static long alignUp(long v, long alignment) {
        return (v + alignment - 1) & -alignment;
    }
}
