package dev.ristretto.devices.pci;

import java.util.Arrays;

/**
 * The 256-byte configuration space of a conventional PCI function with a type-0 header
 * (PCI Local Bus 3.0 §6.1, figure 6-1). Every byte has a read-only/read-write mask and a
 * write-1-to-clear mask, so that a guest write can only change what the hardware would let it
 * change; everything the guest may do to the header follows from the masks:
 * <ul>
 * <li>Command: I/O space, memory space, bus master, parity error response, SERR# enable and
 *     interrupt disable are writable (§6.2.2); the rest read as 0.
 * <li>Status: the error bits are write-1-to-clear (§6.2.3); Capabilities List and Interrupt
 *     Status are read-only and set by the device model.
 * <li>BARs: the address bits above the BAR's size are writable and the type bits are read-only,
 *     which <em>is</em> the sizing protocol of §6.2.5.1: write all-ones, read back, and the
 *     zeros in the writable field give the size. A 64-bit BAR's upper register is fully
 *     writable (for sizes below 4 GiB).
 * <li>Cache Line Size, Latency Timer and Interrupt Line are scratch registers for software.
 * <li>Expansion ROM base address reads 0 and is not writable: no ROM (§6.2.5.2).
 * </ul>
 *
 * <p>Capabilities (§6.7) are appended at dword-aligned offsets from 0x40 and chained through
 * the Capabilities Pointer at 0x34.
 *
 * <p>Not thread-safe; the owning device synchronises.
 */
public final class PciConfigSpace {
    public static final int SIZE = 256;

    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION_ID = 0x08;
    public static final int CLASS_CODE = 0x09;
    public static final int CACHE_LINE_SIZE = 0x0c;
    public static final int LATENCY_TIMER = 0x0d;
    public static final int HEADER_TYPE = 0x0e;
    public static final int BAR0 = 0x10;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2c;
    public static final int SUBSYSTEM_ID = 0x2e;
    public static final int EXPANSION_ROM = 0x30;
    public static final int CAPABILITIES_POINTER = 0x34;
    public static final int INTERRUPT_LINE = 0x3c;
    public static final int INTERRUPT_PIN = 0x3d;
    /** First byte after the type-0 header: where capabilities go. */
    public static final int FIRST_CAPABILITY = 0x40;

    public static final int COMMAND_IO_SPACE = 1;
    public static final int COMMAND_MEMORY_SPACE = 1 << 1;
    public static final int COMMAND_BUS_MASTER = 1 << 2;
    public static final int COMMAND_PARITY_ERROR_RESPONSE = 1 << 6;
    public static final int COMMAND_SERR_ENABLE = 1 << 8;
    public static final int COMMAND_INTX_DISABLE = 1 << 10;
    static final int COMMAND_WRITABLE = COMMAND_IO_SPACE | COMMAND_MEMORY_SPACE | COMMAND_BUS_MASTER
            | COMMAND_PARITY_ERROR_RESPONSE | COMMAND_SERR_ENABLE | COMMAND_INTX_DISABLE;

    public static final int STATUS_INTERRUPT = 1 << 3;
    public static final int STATUS_CAPABILITIES_LIST = 1 << 4;
    /** Master data parity error, signaled/received target abort, received master abort, signaled system error, detected parity error. */
    static final int STATUS_WRITE_ONE_TO_CLEAR = 1 << 8 | 1 << 11 | 1 << 12 | 1 << 13 | 1 << 14 | 1 << 15;

    private final byte[] bytes = new byte[SIZE];
    private final byte[] writable = new byte[SIZE];
    private final byte[] clearable = new byte[SIZE];
    private final PciBar[] bars = new PciBar[6];
    private int capabilityEnd = FIRST_CAPABILITY;
    private int lastNextPointer = CAPABILITIES_POINTER;

    /**
     * A type-0 header.
     *
     * @param classCode 24 bits: base class, sub-class, programming interface (§6.2.1, appendix D)
     * @param interruptPin 0 for none, 1-4 for INTA#-INTD#
     */
    public PciConfigSpace(int vendorId, int deviceId, int revision, int classCode, int subsystemVendorId,
            int subsystemId, int interruptPin) {
        if (interruptPin < 0 || interruptPin > 4) {
            throw new IllegalArgumentException("interrupt pin " + interruptPin + " is not 0 (none) or 1-4 (INTA#-INTD#)");
        }
        put16(VENDOR_ID, vendorId);
        put16(DEVICE_ID, deviceId);
        bytes[REVISION_ID] = (byte) revision;
        put16(CLASS_CODE, classCode & 0xffff);
        bytes[CLASS_CODE + 2] = (byte) (classCode >>> 16);
        bytes[HEADER_TYPE] = 0; // type 0, single function
        put16(SUBSYSTEM_VENDOR_ID, subsystemVendorId);
        put16(SUBSYSTEM_ID, subsystemId);
        bytes[INTERRUPT_PIN] = (byte) interruptPin;

        setMask(writable, COMMAND, COMMAND_WRITABLE, 2);
        setMask(clearable, STATUS, STATUS_WRITE_ONE_TO_CLEAR, 2);
        writable[CACHE_LINE_SIZE] = (byte) 0xff;
        writable[LATENCY_TIMER] = (byte) 0xff;
        writable[INTERRUPT_LINE] = (byte) 0xff;
    }

    // ---- guest access ----

    /** A guest read of {@code data.length} bytes at {@code offset}; bytes past 0xff read 0. */
    public void read(int offset, byte[] data) {
        for (int i = 0; i < data.length; i++) {
            int at = offset + i;
            data[i] = at >= 0 && at < SIZE ? bytes[at] : 0;
        }
    }

    /** A guest write through the masks; bytes past 0xff are dropped. */
    public void write(int offset, byte[] data) {
        for (int i = 0; i < data.length; i++) {
            int at = offset + i;
            if (at < 0 || at >= SIZE) {
                continue;
            }
            int value = data[i];
            int keep = bytes[at] & ~writable[at];
            int set = value & writable[at];
            int cleared = value & clearable[at];
            bytes[at] = (byte) ((keep | set) & ~cleared);
        }
    }

    /** Reads a little-endian value of {@code size} (1, 2 or 4) bytes, as the device model sees it. */
    public int read(int offset, int size) {
        int v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (bytes[offset + i] & 0xff);
        }
        return v;
    }

    /** Sets bytes directly, bypassing the masks: the device model updating its own registers. */
    public void set(int offset, int value, int size) {
        for (int i = 0; i < size; i++) {
            bytes[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    /** Makes the bits of {@code mask} ({@code size} bytes at {@code offset}) guest-writable. */
    public void setWritable(int offset, int mask, int size) {
        setMask(writable, offset, mask, size);
    }

    public int command() {
        return read(COMMAND, 2);
    }

    /** Sets or clears read-only status bits (Interrupt Status, §6.2.3). */
    public void setStatusBits(int bits, boolean on) {
        int s = read(STATUS, 2);
        set(STATUS, on ? s | bits : s & ~bits, 2);
    }

    // ---- BARs ----

    /** Declares a BAR. Its address reads 0 until {@link #setBarAddress} or the guest moves it. */
    public void addBar(PciBar bar) {
        int i = bar.index();
        if (bars[i] != null || (bar.kind() == PciBar.Kind.MEMORY64 && bars[i + 1] != null)) {
            throw new IllegalArgumentException("BAR " + i + " is already declared");
        }
        for (int j = 0; j < i; j++) {
            if (bars[j] != null && bars[j].kind() == PciBar.Kind.MEMORY64 && j + 1 == i) {
                throw new IllegalArgumentException("BAR " + i + " is the upper half of 64-bit BAR " + j);
            }
        }
        bars[i] = bar;
        int reg = BAR0 + 4 * i;
        long sizeMask = ~(bar.size() - 1);
        int typeBits = switch (bar.kind()) {
            case IO -> 0x1;
            case MEMORY32 -> 0x0;
            case MEMORY64 -> 0x4;
        } | (bar.prefetchable() ? 0x8 : 0);
        int lowFlagBits = bar.kind() == PciBar.Kind.IO ? 0x3 : 0xf;
        set(reg, typeBits, 4);
        setMask(writable, reg, (int) sizeMask & ~lowFlagBits, 4);
        if (bar.kind() == PciBar.Kind.MEMORY64) {
            set(reg + 4, 0, 4);
            setMask(writable, reg + 4, (int) (sizeMask >>> 32), 4);
        } else if (bar.kind() == PciBar.Kind.IO) {
            // I/O addresses are 16 bits on x86; the upper half of the register reads 0.
            setMask(writable, reg, (int) sizeMask & 0xfffc, 4);
        }
    }

    /** The declared BAR {@code index}, or null (also for the upper half of a 64-bit BAR). */
    public PciBar bar(int index) {
        return bars[index];
    }

    /** Every declared BAR, in index order. */
    public java.util.List<PciBar> bars() {
        return Arrays.stream(bars).filter(java.util.Objects::nonNull).toList();
    }

    /** Places BAR {@code index} at {@code address} (firmware's job; the guest may move it later). */
    public void setBarAddress(int index, long address) {
        PciBar bar = bars[index];
        if (bar == null) {
            throw new IllegalArgumentException("BAR " + index + " is not declared");
        }
        if ((address & (bar.size() - 1)) != 0) {
            throw new IllegalArgumentException("BAR " + index + " address 0x" + Long.toHexString(address)
                    + " is not aligned to its size 0x" + Long.toHexString(bar.size()));
        }
        if (bar.kind() != PciBar.Kind.MEMORY64 && (address >>> 32) != 0) {
            throw new IllegalArgumentException("BAR " + index + " is 32-bit; 0x" + Long.toHexString(address)
                    + " is above 4 GiB");
        }
        int reg = BAR0 + 4 * index;
        int flags = read(reg, 4) & (bar.kind() == PciBar.Kind.IO ? 0x3 : 0xf);
        set(reg, (int) address | flags, 4);
        if (bar.kind() == PciBar.Kind.MEMORY64) {
            set(reg + 4, (int) (address >>> 32), 4);
        }
    }

    /** The address BAR {@code index} currently decodes, as the guest last programmed it. */
    public long barAddress(int index) {
        PciBar bar = bars[index];
        if (bar == null) {
            throw new IllegalArgumentException("BAR " + index + " is not declared");
        }
        int reg = BAR0 + 4 * index;
        long low = Integer.toUnsignedLong(read(reg, 4));
        return switch (bar.kind()) {
            case IO -> low & ~0x3L;
            case MEMORY32 -> low & ~0xfL;
            case MEMORY64 -> (low & ~0xfL) | (Integer.toUnsignedLong(read(reg + 4, 4)) << 32);
        };
    }

    // ---- capabilities ----

    /**
     * Appends a capability (§6.7): {@code id}, then the next pointer (filled in here), then
     * {@code body}. {@code writableMask} (same length as body, or null) says which body bits the
     * guest may write. Returns the capability's offset in configuration space.
     */
    public int addCapability(int id, byte[] body, byte[] writableMask) {
        if (writableMask != null && writableMask.length != body.length) {
            throw new IllegalArgumentException("capability mask length differs from its body");
        }
        int offset = capabilityEnd;
        int length = 2 + body.length;
        if (offset + length > SIZE) {
            throw new IllegalStateException("capability 0x" + Integer.toHexString(id) + " of " + length
                    + " bytes does not fit in configuration space after 0x" + Integer.toHexString(offset));
        }
        bytes[offset] = (byte) id;
        bytes[offset + 1] = 0;
        System.arraycopy(body, 0, bytes, offset + 2, body.length);
        if (writableMask != null) {
            System.arraycopy(writableMask, 0, writable, offset + 2, body.length);
        }
        bytes[lastNextPointer] = (byte) offset;
        lastNextPointer = offset + 1;
        capabilityEnd = (offset + length + 3) & ~3; // §6.7: capabilities are dword aligned
        setStatusBits(STATUS_CAPABILITIES_LIST, true);
        return offset;
    }

    private void put16(int offset, int v) {
        set(offset, v, 2);
    }

    private static void setMask(byte[] mask, int offset, int bits, int size) {
        for (int i = 0; i < size; i++) {
            mask[offset + i] = (byte) (bits >>> (8 * i));
        }
    }
}
