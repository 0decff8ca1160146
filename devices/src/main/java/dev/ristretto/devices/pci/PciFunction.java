package dev.ristretto.devices.pci;

import java.util.List;

/**
 * The part every PCI function shares: a {@link PciConfigSpace} behind the function's lock, BAR
 * placement, and BAR decoding gated by the Command register's I/O and memory space enables
 * (PCI Local Bus 3.0 §6.2.2: with the enable clear the function does not respond).
 * Subclasses add behaviour by overriding {@link #configWritten}.
 */
public abstract class PciFunction implements PciDevice {

    private final String name;
    /** Guarded by {@code this}. */
    protected final PciConfigSpace config;

    protected PciFunction(String name, PciConfigSpace config) {
        this.name = name;
        this.config = config;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public synchronized void readConfig(int offset, byte[] data) {
        config.read(offset, data);
    }

    @Override
    public void writeConfig(int offset, byte[] data) {
        synchronized (this) {
            config.write(offset, data);
        }
        configWritten(offset, data.length);
    }

    /**
     * Called after a guest configuration write of {@code length} bytes at {@code offset} has
     * been applied through the masks, outside the function's lock.
     */
    protected void configWritten(int offset, int length) {
    }

    @Override
    public synchronized List<PciBar> bars() {
        return config.bars();
    }

    @Override
    public synchronized long barAddress(int index) {
        PciBar bar = index >= 0 && index < 6 ? config.bar(index) : null;
        if (bar == null) {
            return -1;
        }
        int enable = bar.isMemory() ? PciConfigSpace.COMMAND_MEMORY_SPACE : PciConfigSpace.COMMAND_IO_SPACE;
        return (config.command() & enable) == 0 ? -1 : config.barAddress(index);
    }

    @Override
    public synchronized void setBarAddress(int index, long address) {
        config.setBarAddress(index, address);
    }

    /** True when {@code [offset, offset + length)} overlaps {@code [start, start + size)}. */
    protected static boolean overlaps(int offset, int length, int start, int size) {
        return offset < start + size && start < offset + length;
    }
}
