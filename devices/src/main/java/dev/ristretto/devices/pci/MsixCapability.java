package dev.ristretto.devices.pci;

import java.util.Arrays;

/**
 * MSI-X (PCI Local Bus 3.0 §6.8.2): the capability in configuration space, the vector table and
 * the pending bit array, both of which live in a BAR of the owning device.
 *
 * <pre>
 * capability  +0 id 0x11  +1 next  +2 Message Control: bits 10:0 table size - 1 (RO),
 *                                     bit 14 Function Mask (RW), bit 15 MSI-X Enable (RW)
 *             +4 Table Offset | BIR (bits 2:0)    +8 PBA Offset | BIR
 * table entry +0 Message Address  +4 Message Upper Address  +8 Message Data
 *             +12 Vector Control: bit 0 Mask Bit
 * </pre>
 *
 * Delivery follows §6.8.2.9 (and the ECN text on pending bits): a vector that fires while
 * masked — by its own Mask Bit or by Function Mask — sets its pending bit instead of sending a
 * message; when it becomes unmasked with the pending bit set, the message is sent then and the
 * bit cleared. Every Mask Bit is set after reset (§6.8.2.9), so nothing is sent until software
 * has written an entry and unmasked it.
 *
 * <p>Thread-safe: the table is written from vCPU threads and vectors fire from device workers.
 * The sink is called outside the lock.
 */
public final class MsixCapability {

    public static final int CAPABILITY_ID = 0x11;
    public static final int ENTRY_SIZE = 16;
    /** §6.8.2.3: at most 2048 vectors (an 11-bit N-1 field). */
    public static final int MAX_VECTORS = 2048;

    static final int CONTROL_FUNCTION_MASK = 1 << 14;
    static final int CONTROL_ENABLE = 1 << 15;
    static final int VECTOR_CONTROL_MASK = 1;

    private final int vectors;
    private final int tableBar;
    private final long tableOffset;
    private final int pbaBar;
    private final long pbaOffset;
    private final MsiSink sink;

    private final byte[] table;
    private final long[] pending;
    private boolean enabled;
    private boolean functionMask;
    private int capabilityOffset = -1;

    /**
     * @param vectors     table size, 1..2048
     * @param tableBar    BAR holding the table; {@code tableOffset} 8-byte aligned inside it
     * @param pbaBar      BAR holding the pending bit array; {@code pbaOffset} 8-byte aligned
     * @param sink        where unmasked messages go
     */
    public MsixCapability(int vectors, int tableBar, long tableOffset, int pbaBar, long pbaOffset, MsiSink sink) {
        if (vectors < 1 || vectors > MAX_VECTORS) {
            throw new IllegalArgumentException("MSI-X table size " + vectors + " is not between 1 and 2048");
        }
        if ((tableOffset & 7) != 0 || (pbaOffset & 7) != 0 || tableBar < 0 || tableBar > 5 || pbaBar < 0 || pbaBar > 5) {
            throw new IllegalArgumentException("MSI-X table and PBA need a BAR 0-5 and 8-byte aligned offsets "
                    + "(PCI 3.0 §6.8.2.4-5)");
        }
        this.vectors = vectors;
        this.tableBar = tableBar;
        this.tableOffset = tableOffset;
        this.pbaBar = pbaBar;
        this.pbaOffset = pbaOffset;
        this.sink = sink;
        this.table = new byte[vectors * ENTRY_SIZE];
        this.pending = new long[(vectors + 63) / 64];
        resetTable();
    }

    /** Writes the capability into {@code config} and returns its offset. */
    public synchronized int install(PciConfigSpace config) {
        byte[] body = new byte[10];
        int control = vectors - 1;
        body[0] = (byte) control;
        body[1] = (byte) (control >>> 8);
        putInt(body, 2, (int) tableOffset | tableBar);
        putInt(body, 6, (int) pbaOffset | pbaBar);
        byte[] mask = new byte[10];
        mask[1] = (byte) ((CONTROL_FUNCTION_MASK | CONTROL_ENABLE) >>> 8);
        capabilityOffset = config.addCapability(CAPABILITY_ID, body, mask);
        return capabilityOffset;
    }

    /** Offset of the capability in configuration space (after {@link #install}). */
    public int capabilityOffset() {
        return capabilityOffset;
    }

    public int vectors() {
        return vectors;
    }

    public int tableBar() {
        return tableBar;
    }

    public long tableOffset() {
        return tableOffset;
    }

    /** Bytes the table occupies in its BAR. */
    public long tableSize() {
        return (long) vectors * ENTRY_SIZE;
    }

    public int pbaBar() {
        return pbaBar;
    }

    public long pbaOffset() {
        return pbaOffset;
    }

    /** Bytes the PBA occupies in its BAR (whole qwords, §6.8.2.7). */
    public long pbaSize() {
        return pending.length * 8L;
    }

    /**
     * Power-on state (a machine or function-level reset): MSI-X disabled and the function
     * unmasked in {@code config}'s Message Control, every vector masked, nothing pending.
     */
    public void reset(PciConfigSpace config) {
        if (capabilityOffset >= 0) {
            int control = config.read(capabilityOffset + 2, 2);
            config.set(capabilityOffset + 2, control & ~(CONTROL_ENABLE | CONTROL_FUNCTION_MASK), 2);
        }
        resetTable();
    }

    private synchronized void resetTable() {
        Arrays.fill(table, (byte) 0);
        for (int v = 0; v < vectors; v++) {
            table[v * ENTRY_SIZE + 12] = VECTOR_CONTROL_MASK;
        }
        Arrays.fill(pending, 0);
        enabled = false;
        functionMask = false;
    }

    /**
     * Re-reads Message Control after a configuration write that touched it, and sends whatever
     * became unmasked while pending.
     */
    public void controlWritten(PciConfigSpace config) {
        int control = config.read(capabilityOffset + 2, 2);
        synchronized (this) {
            enabled = (control & CONTROL_ENABLE) != 0;
            functionMask = (control & CONTROL_FUNCTION_MASK) != 0;
        }
        deliverPending();
    }

    public synchronized boolean isEnabled() {
        return enabled;
    }

    public synchronized boolean isFunctionMasked() {
        return functionMask;
    }

    public synchronized boolean isMasked(int vector) {
        return (table[vector * ENTRY_SIZE + 12] & VECTOR_CONTROL_MASK) != 0;
    }

    public synchronized boolean isPending(int vector) {
        return (pending[vector / 64] & (1L << (vector % 64))) != 0;
    }

    /** The message table entry {@code vector} currently holds. */
    public synchronized MsiMessage message(int vector) {
        int e = vector * ENTRY_SIZE;
        long address = Integer.toUnsignedLong(getInt(table, e)) | (Integer.toUnsignedLong(getInt(table, e + 4)) << 32);
        return new MsiMessage(address, getInt(table, e + 8));
    }

    /**
     * Fires {@code vector}. Returns false when MSI-X is disabled (the device should use INTx
     * instead) or the vector does not exist; true when the message was sent or left pending.
     */
    public boolean trigger(int vector) {
        MsiMessage send;
        synchronized (this) {
            if (!enabled || vector < 0 || vector >= vectors) {
                return false;
            }
            if (functionMask || isMasked(vector)) {
                pending[vector / 64] |= 1L << (vector % 64);
                return true;
            }
            send = message(vector);
        }
        sink.signal(vector, send);
        return true;
    }

    /** A read inside the table; accesses beyond it read 0. */
    public synchronized void readTable(long offset, byte[] data) {
        for (int i = 0; i < data.length; i++) {
            long at = offset + i;
            data[i] = at >= 0 && at < table.length ? table[(int) at] : 0;
        }
    }

    /**
     * A write inside the table. §6.8.2: software uses dword or qword accesses; any width is
     * applied byte by byte here, which is what those accesses amount to. Unmasking a pending
     * vector sends its message.
     */
    public void writeTable(long offset, byte[] data) {
        int firstChanged = Integer.MAX_VALUE;
        int lastChanged = -1;
        synchronized (this) {
            for (int i = 0; i < data.length; i++) {
                long at = offset + i;
                if (at >= 0 && at < table.length) {
                    int entryByte = (int) (at % ENTRY_SIZE);
                    // Vector Control bits 31:1 are reserved (read 0); only the Mask Bit is writable.
                    if (entryByte == 12) {
                        table[(int) at] = (byte) (data[i] & VECTOR_CONTROL_MASK);
                    } else if (entryByte < 12) {
                        if (table[(int) at] != data[i]) {
                            int vector = (int) (at / ENTRY_SIZE);
                            firstChanged = Math.min(firstChanged, vector);
                            lastChanged = Math.max(lastChanged, vector);
                        }
                        table[(int) at] = data[i];
                    }
                }
            }
        }
        for (int v = firstChanged; v <= lastChanged; v++) {
            sink.messageChanged(v, message(v));
        }
        deliverPending();
    }

    /** A read inside the PBA (read-only, §6.8.2.10: writes are ignored). */
    public synchronized void readPba(long offset, byte[] data) {
        for (int i = 0; i < data.length; i++) {
            long at = offset + i;
            data[i] = at >= 0 && at < pending.length * 8L
                    ? (byte) (pending[(int) (at / 8)] >>> (8 * (at % 8))) : 0;
        }
    }

    private void deliverPending() {
        while (true) {
            int vector = -1;
            MsiMessage send = null;
            synchronized (this) {
                if (!enabled || functionMask) {
                    return;
                }
                for (int v = 0; v < vectors; v++) {
                    if (isPending(v) && !isMasked(v)) {
                        pending[v / 64] &= ~(1L << (v % 64));
                        vector = v;
                        send = message(v);
                        break;
                    }
                }
            }
            if (send == null) {
                return;
            }
            sink.signal(vector, send);
        }
    }

    private static int getInt(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16 | (b[at + 3] & 0xff) << 24;
    }

    private static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >>> 8);
        b[at + 2] = (byte) (v >>> 16);
        b[at + 3] = (byte) (v >>> 24);
    }
}
