package dev.ristretto.devices.legacy;

import dev.ristretto.vmm.device.BusDevice;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * I/O port 0x80, the POST diagnostic port. Firmware writes progress codes here, and Linux writes
 * it as a bus-settling delay after slow port accesses (arch/x86/kernel/io_delay.c
 * {@code native_io_delay}, default {@code io_delay=0x80}), so every {@code outb_p} costs an
 * exit. Without a device the access is still harmless (the bus counts it as unclaimed), but the
 * counter would then drown real probing of absent hardware; with this device the writes are
 * accepted silently and the last code stays available to the host for diagnostics ("the firmware
 * stopped after POST code 0x.."), which is what a POST card does.
 *
 * <p>Reads return 0xff, not the last code. On a modern chipset the PCH snoops writes to 0x80 for
 * the POST display and forwards reads to the LPC bus, where nothing answers and the bus floats
 * high; only the original AT's DMA page register at this address read back. QEMU also returns
 * 0xff, so guests tested there see the same value, and no guest code reads the port expecting its
 * own write back.
 *
 * <p>Only the first byte of a wider access belongs to this port (the rest spill onto 0x81.., which
 * this device does not own), so it alone is kept.
 */
public final class PostCodePort implements BusDevice {

    public static final int PORT = 0x80;
    public static final int PORT_COUNT = 1;

    // Two independent values, each safe on its own: no lock needed for a last-writer-wins code.
    private volatile int lastCode = -1;
    private final AtomicLong writes = new AtomicLong();

    @Override
    public void read(long offset, byte[] data) {
        Arrays.fill(data, (byte) 0xff);
    }

    @Override
    public void write(long offset, byte[] data) {
        if (offset == 0 && data.length > 0) {
            lastCode = data[0] & 0xff;
        }
        writes.incrementAndGet();
    }

    /** The last code written, 0–255, or -1 if the guest never wrote one. */
    public int lastCode() {
        return lastCode;
    }

    /** How many writes the port has absorbed (each one a VM exit: useful when profiling). */
    public long writes() {
        return writes.get();
    }
}
