package dev.ristretto.devices.pci;

import dev.ristretto.vmm.device.BusDevice;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.Arrays;
import java.util.concurrent.atomic.LongAdder;

/**
 * PCI segment 0, bus 0: up to 32 single-function devices with the host bridge at 00:00.0, and
 * the ways the guest reaches them:
 * <ul>
 * <li>{@link #configAddressPort()} and {@link #configDataPort()}: configuration mechanism #1
 *     (PCI Local Bus 3.0 §3.2.2.3.2), a dword CONFIG_ADDRESS register at I/O port 0xCF8 and a
 *     CONFIG_DATA window at 0xCFC-0xCFF;
 * <li>{@link #ecam(int)}: the PCI Express enhanced configuration access mechanism (PCIe Base
 *     §7.2.2), a 4 KiB window per function, bus in address bits 27:20, device 19:15, function
 *     14:12, register 11:0, described to the guest by the ACPI MCFG table;
 * <li>{@link #memoryWindow(long)} and {@link #ioWindow(long)}: bus devices covering the windows
 *     BARs live in; each access is routed to the BAR that decodes it <em>now</em>, so a guest
 *     that moves a BAR (Linux may reassign resources) is followed without rebuilding a bus.
 * </ul>
 * A configuration read of an empty slot, another bus or a function other than 0 returns
 * all-ones (the Vendor ID 0xFFFF that means "no device", §6.1), and writes to it are dropped.
 * Registers 0x100-0xFFF of a conventional function read 0 through ECAM (no extended
 * capabilities: a zero header at 0x100 ends the list, PCIe Base §7.6.2).
 */
public final class PciRoot {

    private static final Logger LOG = System.getLogger(PciRoot.class.getName());

    /** The I/O ports of configuration mechanism #1. */
    public static final int CONFIG_ADDRESS_PORT = 0xcf8;
    public static final int CONFIG_DATA_PORT = 0xcfc;
    /** Bytes of ECAM space per bus: 32 devices x 8 functions x 4 KiB. */
    public static final long ECAM_BUS_SIZE = 1L << 20;

    static final int CONFIG_ENABLE = 1 << 31;

    private final PciDevice[] slots = new PciDevice[32];
    private final LongAdder unclaimedBarAccesses = new LongAdder();
    private int configAddress;

    /** A root with {@code hostBridge} at 00:00.0. */
    public PciRoot(PciDevice hostBridge) {
        slots[0] = hostBridge;
    }

    /** Puts {@code device} in the lowest free slot of bus 0 and returns its address. */
    public synchronized PciAddress add(PciDevice device) {
        for (int slot = 1; slot < slots.length; slot++) {
            if (slots[slot] == null) {
                slots[slot] = device;
                return new PciAddress(0, slot, 0);
            }
        }
        throw new PciResourceException("PCI bus 0 has no free slot for " + device.name()
                + "; at most 31 devices fit beside the host bridge");
    }

    /** The device at {@code address}, or null. */
    public synchronized PciDevice device(PciAddress address) {
        return address.bus() == 0 && address.function() == 0 ? slots[address.device()] : null;
    }

    private synchronized PciDevice[] devices() {
        return Arrays.copyOf(slots, slots.length);
    }

    /** A configuration read of {@code data.length} bytes at register {@code reg} (0-0xfff). */
    public void configRead(int bus, int device, int function, int reg, byte[] data) {
        PciDevice d = bus == 0 && function == 0 ? slot(device) : null;
        if (d == null) {
            Arrays.fill(data, (byte) 0xff);
        } else if (reg >= PciConfigSpace.SIZE) {
            Arrays.fill(data, (byte) 0);
        } else {
            d.readConfig(reg, data);
        }
    }

    /** A configuration write at register {@code reg} (0-0xfff). */
    public void configWrite(int bus, int device, int function, int reg, byte[] data) {
        PciDevice d = bus == 0 && function == 0 ? slot(device) : null;
        if (d != null && reg < PciConfigSpace.SIZE) {
            d.writeConfig(reg, data);
        }
    }

    private synchronized PciDevice slot(int device) {
        return slots[device];
    }

    // ---- configuration mechanism #1 ----

    private synchronized int configAddress() {
        return configAddress;
    }

    private synchronized void setConfigAddress(int value) {
        // Bits 30:24 are reserved and read 0; bits 1:0 are 0 for a type-0/1 translation (§3.2.2.3.2).
        configAddress = value & (CONFIG_ENABLE | 0x00ff_fffc);
    }

    /**
     * CONFIG_ADDRESS at 0xCF8 (4 ports). Only dword accesses reach the register (§3.2.2.3.2:
     * "Anything other than a DWORD access to CONFIG_ADDRESS is passed through as a normal I/O
     * transaction"); other widths find nothing here: reads return all-ones, writes are dropped.
     * In particular a byte write to 0xCF9, the reset control register of Intel chipsets, does
     * not disturb the address.
     */
    public BusDevice configAddressPort() {
        return new BusDevice() {
            @Override
            public void read(long offset, byte[] data) {
                if (offset == 0 && data.length == 4) {
                    putLe(data, configAddress());
                } else {
                    Arrays.fill(data, (byte) 0xff);
                }
            }

            @Override
            public void write(long offset, byte[] data) {
                if (offset == 0 && data.length == 4) {
                    setConfigAddress(getLe(data));
                }
            }
        };
    }

    /**
     * CONFIG_DATA at 0xCFC-0xCFF: byte lane {@code offset} of the dword CONFIG_ADDRESS selects.
     * With the enable bit clear, reads return all-ones and writes are dropped.
     */
    public BusDevice configDataPort() {
        return new BusDevice() {
            @Override
            public void read(long offset, byte[] data) {
                int address = configAddress();
                if ((address & CONFIG_ENABLE) == 0 || offset + data.length > 4) {
                    Arrays.fill(data, (byte) 0xff);
                    return;
                }
                configRead((address >>> 16) & 0xff, (address >>> 11) & 0x1f, (address >>> 8) & 0x7,
                        (address & 0xfc) + (int) offset, data);
            }

            @Override
            public void write(long offset, byte[] data) {
                int address = configAddress();
                if ((address & CONFIG_ENABLE) == 0 || offset + data.length > 4) {
                    return;
                }
                configWrite((address >>> 16) & 0xff, (address >>> 11) & 0x1f, (address >>> 8) & 0x7,
                        (address & 0xfc) + (int) offset, data);
            }
        };
    }

    // ---- ECAM ----

    /**
     * The ECAM window for buses 0 to {@code buses - 1}, {@code buses} MiB long: insert it on the
     * MMIO bus at the base the MCFG table gives. An access that crosses a dword is not a valid
     * configuration request (PCIe Base §7.2.2.1) and reads all-ones.
     */
    public BusDevice ecam(int buses) {
        if (buses < 1 || buses > 256) {
            throw new IllegalArgumentException("ECAM bus count " + buses + " is not between 1 and 256");
        }
        return new BusDevice() {
            @Override
            public void read(long offset, byte[] data) {
                int reg = (int) (offset & 0xfff);
                if ((reg & 3) + data.length > 4) {
                    Arrays.fill(data, (byte) 0xff);
                    return;
                }
                configRead((int) (offset >>> 20) & 0xff, (int) (offset >>> 15) & 0x1f, (int) (offset >>> 12) & 0x7,
                        reg, data);
            }

            @Override
            public void write(long offset, byte[] data) {
                int reg = (int) (offset & 0xfff);
                if ((reg & 3) + data.length > 4) {
                    return;
                }
                configWrite((int) (offset >>> 20) & 0xff, (int) (offset >>> 15) & 0x1f, (int) (offset >>> 12) & 0x7,
                        reg, data);
            }
        };
    }

    // ---- BAR windows ----

    /** A bus device for the memory window starting at guest-physical {@code base}. */
    public BusDevice memoryWindow(long base) {
        return new BarWindow(base, true);
    }

    /** A bus device for the I/O port window starting at port {@code base}. */
    public BusDevice ioWindow(long base) {
        return new BarWindow(base, false);
    }

    /** BAR accesses no enabled BAR decoded (reads return all-ones, as a master abort does). */
    public long unclaimedBarAccesses() {
        return unclaimedBarAccesses.sum();
    }

    private final class BarWindow implements BusDevice {
        private final long base;
        private final boolean memory;

        BarWindow(long base, boolean memory) {
            this.base = base;
            this.memory = memory;
        }

        @Override
        public void read(long offset, byte[] data) {
            if (!route(base + offset, data, false)) {
                Arrays.fill(data, (byte) 0xff);
            }
        }

        @Override
        public void write(long offset, byte[] data) {
            route(base + offset, data, true);
        }

        private boolean route(long address, byte[] data, boolean write) {
            for (PciDevice d : devices()) {
                if (d == null) {
                    continue;
                }
                for (PciBar bar : d.bars()) {
                    if (bar.isMemory() != memory) {
                        continue;
                    }
                    long start = d.barAddress(bar.index());
                    if (start < 0 || Long.compareUnsigned(address, start) < 0) {
                        continue;
                    }
                    long off = address - start;
                    if (Long.compareUnsigned(off, bar.size()) < 0 && off + data.length <= bar.size()) {
                        if (write) {
                            d.writeBar(bar.index(), off, data);
                        } else {
                            d.readBar(bar.index(), off, data);
                        }
                        return true;
                    }
                }
            }
            unclaimedBarAccesses.increment();
            LOG.log(Level.DEBUG, () -> "PCI: " + (write ? "write" : "read") + " of " + data.length
                    + " bytes at 0x" + Long.toHexString(address) + " hits no enabled BAR");
            return false;
        }
    }

    static int getLe(byte[] b) {
        return (b[0] & 0xff) | (b[1] & 0xff) << 8 | (b[2] & 0xff) << 16 | (b[3] & 0xff) << 24;
    }

    static void putLe(byte[] b, int v) {
        b[0] = (byte) v;
        b[1] = (byte) (v >>> 8);
        b[2] = (byte) (v >>> 16);
        b[3] = (byte) (v >>> 24);
    }
}
