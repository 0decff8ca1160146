package dev.ristretto.devices.virtio;

import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.memory.GuestMemoryException;

import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * The device side of one split virtqueue (VIRTIO 1.2 §2.7). The transport writes the queue's
 * size and ring addresses as the driver programs them, then {@link #activate} it; the device
 * {@link #pop}s available descriptor chains and returns them with {@link #addUsed}.
 *
 * <p>Layout in guest RAM (§2.7, table "Virtqueue Part Alignment / Size"):
 * <pre>
 * descriptor table  align 16   16 * size bytes       {addr u64, len u32, flags u16, next u16}
 * available ring    align 2    6 + 2 * size bytes    {flags u16, idx u16, ring[size] u16, used_event u16}
 * used ring         align 4    6 + 8 * size bytes    {flags u16, idx u16, ring[size] {id u32, len u32}, avail_event u16}
 * </pre>
 *
 * <p>Every number the guest wrote is checked when it is used, and a violation never escapes as
 * an exception, never loops and never touches memory outside guest RAM: the queue becomes
 * <em>broken</em>, its violation counter goes up, the {@link ViolationListener} is told (the transport sets DEVICE_NEEDS_RESET, §2.1.2) and the queue does
 * nothing more until it is reset. The checks, and the rules they enforce:
 * <ul>
 * <li>queue size a power of two, 1..32768 and not above the device's maximum (§2.7, §4.1.4.3.2);
 *     ring alignment and placement inside RAM;
 * <li>the available index may run at most {@code size} entries ahead of the last one consumed
 *     (the driver cannot have more chains outstanding than there are ring slots, §2.7.6);
 * <li>head and next indices below the table size (§2.7.5);
 * <li>no descriptor loops: at most {@code size} descriptors per table walk, which is also the
 *     longest legal chain (§2.7.5.2: "Drivers MUST NOT add a descriptor chain longer than 2^32
 *     bytes in total; this implies that loops in the descriptor chain are forbidden");
 * <li>total chain length below 2^32 (§2.7.5.2);
 * <li>device-writable descriptors only after device-readable ones (§2.7.4.2);
 * <li>indirect descriptors only when VIRTIO_F_INDIRECT_DESC was negotiated, never with NEXT, never
 *     inside an indirect table, with a length that is a non-zero multiple of 16 (§2.7.5.3.1);
 * <li>every buffer entirely inside one region of guest RAM.
 * </ul>
 *
 * <p>Memory ordering follows Linux's virtio_ring.c and the spec's §2.7.13/§2.7.8 sequencing:
 * an acquire fence between reading avail.idx and reading the ring entries and descriptors it
 * publishes; a release fence between writing a used element and publishing used.idx; a full
 * fence between publishing used.idx (or avail_event) and reading used_event (or avail.idx), so
 * a notification is never lost to a store-load reordering.
 *
 * <p>Thread-safety: all methods are synchronised on the queue; the transport (vCPU threads) and
 * the device's worker (an ioeventfd thread later) may both touch it.
 */
public final class Virtqueue {

    /** VIRTQ_DESC_F_NEXT: the chain continues at {@code next} (§2.7.5). */
    public static final int DESC_F_NEXT = 1;
    /** VIRTQ_DESC_F_WRITE: the buffer is device-writable (§2.7.5). */
    public static final int DESC_F_WRITE = 2;
    /** VIRTQ_DESC_F_INDIRECT: the buffer holds an indirect descriptor table (§2.7.5.3). */
    public static final int DESC_F_INDIRECT = 4;
    /** VIRTQ_AVAIL_F_NO_INTERRUPT: the driver asks for no used-buffer notifications (§2.7.7). */
    public static final int AVAIL_F_NO_INTERRUPT = 1;
    /** VIRTQ_USED_F_NO_NOTIFY: the device asks for no available-buffer notifications (§2.7.10). */
    public static final int USED_F_NO_NOTIFY = 1;

    /** Bytes per descriptor; also the required alignment of the descriptor table. */
    public static final int DESCRIPTOR_SIZE = 16;
    /** Bytes per used-ring element {id u32, len u32}. */
    public static final int USED_ELEMENT_SIZE = 8;

    /**
     * The most entries we accept in one indirect table. The spec bounds an indirect table only
     * through its u32 length; rust-vmm virtio-queue and Linux both stay within u16 indices, and
     * the {@code next} field is a u16, so a longer table could never be walked past entry 65535.
     */
    static final int MAX_INDIRECT_ENTRIES = 0x10000;

    /** Told once each time a queue breaks; the transport maps it to DEVICE_NEEDS_RESET. */
    @FunctionalInterface
    public interface ViolationListener {
        void violated(Virtqueue queue, String reason);

        ViolationListener NONE = (q, r) -> { };
    }

    /** A rule the guest broke; only ever thrown and caught inside this class. */
    private static final class Violation extends Exception {
        private static final long serialVersionUID = 1L;

        Violation(String message) {
            super(message, null, false, false);
        }
    }

    private final int index;
    private final int maxSize;
    private final ViolationListener listener;

    // Driver-programmed configuration (§4.1.4.3 queue_size, queue_desc, queue_driver, queue_device).
    private int size;
    private long descTable;
    private long availRing;
    private long usedRing;
    private boolean enabled;

    // Run-time state, valid while active.
    private GuestMemory memory;
    private boolean active;
    private boolean indirectAllowed;
    private boolean eventIdx;
    private int nextAvail;      // u16: the next available-ring entry to consume
    private int nextUsed;       // u16: the next used-ring entry to fill
    private int signalledUsed;  // u16: used idx when we last decided on a notification
    private boolean signalledUsedValid;

    private boolean broken;
    private String brokenReason;
    private long violations;
    private String unreported;

    /**
     * @param index    the queue's index in its device (for messages and the listener)
     * @param maxSize  the largest size the device supports (a power of two, 1..32768); the
     *                 driver may choose any smaller power of two
     * @param listener told when the guest breaks a rule on this queue
     */
    public Virtqueue(int index, int maxSize, ViolationListener listener) {
        if (maxSize < 1 || maxSize > Virtio.MAX_QUEUE_SIZE || Integer.bitCount(maxSize) != 1) {
            throw new IllegalArgumentException("queue " + index + ": maximum size " + maxSize
                    + " is not a power of two between 1 and 32768 (VIRTIO 1.2 §2.7)");
        }
        this.index = index;
        this.maxSize = maxSize;
        this.listener = listener;
        reset();
    }

    public int index() {
        return index;
    }

    public int maxSize() {
        return maxSize;
    }

    /** Returns the queue to its power-on state: size = max, addresses 0, not enabled, not broken. */
    public synchronized void reset() {
        size = maxSize;
        descTable = 0;
        availRing = 0;
        usedRing = 0;
        enabled = false;
        memory = null;
        active = false;
        nextAvail = 0;
        nextUsed = 0;
        signalledUsedValid = false;
        broken = false;
        brokenReason = null;
        unreported = null;
    }

    // ---- configuration, as the transport's common configuration structure exposes it ----

    public synchronized int size() {
        return size;
    }

    /** Records the driver's queue_size; checked when the queue is activated. */
    public synchronized void setSize(int size) {
        this.size = size & 0xffff;
    }

    public synchronized long descTable() {
        return descTable;
    }

    public synchronized void setDescTable(long address) {
        this.descTable = address;
    }

    public synchronized long availRing() {
        return availRing;
    }

    public synchronized void setAvailRing(long address) {
        this.availRing = address;
    }

    public synchronized long usedRing() {
        return usedRing;
    }

    public synchronized void setUsedRing(long address) {
        this.usedRing = address;
    }

    /** queue_enable (§4.1.4.3): the driver has finished configuring this queue. */
    public synchronized boolean isEnabled() {
        return enabled;
    }

    public synchronized void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    /** True once {@link #activate} accepted the configuration and until reset or breakage. */
    public synchronized boolean isActive() {
        return active && !broken;
    }

    public synchronized boolean isBroken() {
        return broken;
    }

    /** Why the queue broke, or null. */
    public synchronized String brokenReason() {
        return brokenReason;
    }

    /** How many guest rule violations this queue has seen since it was created. */
    public synchronized long violations() {
        return violations;
    }

    /** The next available-ring index the device will consume (for tests and diagnostics). */
    public synchronized int nextAvail() {
        return nextAvail;
    }

    /** The used index the device has published (for tests and diagnostics). */
    public synchronized int nextUsed() {
        return nextUsed;
    }

    /**
     * Checks the driver's configuration and starts the queue. A bad configuration breaks the
     * queue (and returns false) rather than throwing: the values came from the guest.
     *
     * @param features the negotiated feature bits (VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX
     *                 change how the rings are read)
     */
    public boolean activate(GuestMemory memory, long features) {
        boolean ok;
        synchronized (this) {
            ok = activateLocked(memory, features);
        }
        report();
        return ok;
    }

    private boolean activateLocked(GuestMemory memory, long features) {
        if (broken) {
            return false;
        }
        this.memory = memory;
        this.indirectAllowed = (features & Virtio.bit(Virtio.F_INDIRECT_DESC)) != 0;
        this.eventIdx = (features & Virtio.bit(Virtio.F_EVENT_IDX)) != 0;
        try {
            checkLayout();
        } catch (Violation v) {
            fail(v.getMessage());
            return false;
        }
        nextAvail = 0;
        nextUsed = 0;
        signalledUsedValid = false;
        active = true;
        return true;
    }

    private void checkLayout() throws Violation {
        if (size == 0 || Integer.bitCount(size) != 1 || size > maxSize) {
            throw new Violation("queue size " + size + " is not a power of two between 1 and the "
                    + "device maximum " + maxSize + " (VIRTIO 1.2 §2.7, §4.1.4.3.2)");
        }
        checkRegion("descriptor table", descTable, DESCRIPTOR_SIZE, (long) DESCRIPTOR_SIZE * size);
        checkRegion("available ring", availRing, 2, 6L + 2L * size);
        checkRegion("used ring", usedRing, 4, 6L + (long) USED_ELEMENT_SIZE * size);
    }

    private void checkRegion(String what, long address, int alignment, long length) throws Violation {
        if ((address & (alignment - 1)) != 0) {
            throw new Violation(what + " at 0x" + Long.toHexString(address) + " is not " + alignment
                    + "-byte aligned (VIRTIO 1.2 §2.7)");
        }
        if (!memory.contains(GuestAddress.of(address), length)) {
            throw new Violation(what + " at 0x" + Long.toHexString(address) + " (" + length
                    + " bytes) is not inside guest RAM");
        }
    }

    // ---- the data path ----

    /**
     * Takes the next available descriptor chain, or returns null when there is none, when the
     * queue is not active, or when the guest broke a rule (the queue is then broken; see {@link
     * #isBroken()}).
     */
    public DescriptorChain pop() {
        DescriptorChain chain;
        synchronized (this) {
            chain = popLocked();
        }
        report();
        return chain;
    }

    private DescriptorChain popLocked() {
        if (!active || broken) {
            return null;
        }
        try {
            int availIdx = u16(memory.readShort(availAddr(2)));
            int pending = (availIdx - nextAvail) & 0xffff;
            if (pending == 0) {
                return null;
            }
            if (pending > size) {
                // §2.7.6: idx is where the driver puts the next entry; it can be at most `size`
                // entries ahead of what the device consumed, or it overwrote unconsumed slots.
                throw new Violation("available index " + availIdx + " is " + pending
                        + " entries ahead of the device's " + nextAvail + ", more than the queue size "
                        + size);
            }
            // The ring entry and the descriptors are published by the idx store we just read.
            VarHandle.acquireFence();
            int head = u16(memory.readShort(availAddr(4L + 2L * (nextAvail & (size - 1)))));
            DescriptorChain chain = walk(head);
            nextAvail = (nextAvail + 1) & 0xffff;
            return chain;
        } catch (Violation v) {
            fail(v.getMessage());
        } catch (GuestMemoryException | ArithmeticException e) {
            fail(e.getMessage());
        }
        return null;
    }

    private DescriptorChain walk(int head) throws Violation {
        if (head >= size) {
            throw new Violation("available ring entry " + nextAvail + " names head descriptor " + head
                    + ", beyond the queue size " + size + " (VIRTIO 1.2 §2.7.5)");
        }
        List<DescriptorChain.Buffer> readable = new ArrayList<>();
        List<DescriptorChain.Buffer> writable = new ArrayList<>();
        long table = descTable;
        int tableSize = size;
        boolean inIndirect = false;
        int ttl = size;
        int i = head;
        long total = 0;
        while (true) {
            if (ttl-- == 0) {
                throw new Violation("descriptor chain from head " + head + " is longer than its table ("
                        + tableSize + " entries): a loop (VIRTIO 1.2 §2.7.5.2)");
            }
            GuestAddress at = GuestAddress.of(table).checkedAdd((long) i * DESCRIPTOR_SIZE);
            long addr = memory.readLong(at);
            int len = memory.readInt(at.checkedAdd(8));
            int flags = u16(memory.readShort(at.checkedAdd(12)));
            int next = u16(memory.readShort(at.checkedAdd(14)));

            if ((flags & DESC_F_INDIRECT) != 0) {
                // §2.7.5.3.1 driver requirements, each one checked because the device relies on it.
                if (!indirectAllowed) {
                    throw new Violation("descriptor " + i + " is indirect but VIRTIO_F_INDIRECT_DESC was "
                            + "not negotiated (VIRTIO 1.2 §2.7.5.3.1)");
                }
                if (inIndirect) {
                    throw new Violation("indirect table entry " + i + " is itself indirect; nested "
                            + "indirect tables are forbidden (VIRTIO 1.2 §2.7.5.3.1)");
                }
                if ((flags & DESC_F_NEXT) != 0) {
                    throw new Violation("descriptor " + i + " sets both INDIRECT and NEXT "
                            + "(VIRTIO 1.2 §2.7.5.3.1)");
                }
                long tableLen = Integer.toUnsignedLong(len);
                if (tableLen == 0 || tableLen % DESCRIPTOR_SIZE != 0
                        || tableLen / DESCRIPTOR_SIZE > MAX_INDIRECT_ENTRIES) {
                    throw new Violation("indirect table length " + tableLen + " of descriptor " + i
                            + " is not a non-zero multiple of 16 up to " + MAX_INDIRECT_ENTRIES
                            + " entries (VIRTIO 1.2 §2.7.5.3.1)");
                }
                if (!memory.contains(GuestAddress.of(addr), tableLen)) {
                    throw new Violation("indirect table at 0x" + Long.toHexString(addr) + " (" + tableLen
                            + " bytes) is not inside guest RAM");
                }
                // §2.7.5.3.2: the device ignores WRITE on the descriptor that names the table.
                table = addr;
                tableSize = (int) (tableLen / DESCRIPTOR_SIZE);
                inIndirect = true;
                ttl = tableSize;
                i = 0;
                continue;
            }

            long ulen = Integer.toUnsignedLong(len);
            total += ulen;
            if (total > 0xffff_ffffL) {
                throw new Violation("descriptor chain from head " + head + " is longer than 2^32 - 1 "
                        + "bytes (VIRTIO 1.2 §2.7.5.2)");
            }
            if (!memory.contains(GuestAddress.of(addr), ulen)) {
                throw new Violation("descriptor " + i + " buffer 0x" + Long.toHexString(addr) + "+"
                        + ulen + " is not inside guest RAM");
            }
            boolean isWritable = (flags & DESC_F_WRITE) != 0;
            if (!isWritable && !writable.isEmpty()) {
                throw new Violation("descriptor " + i + " is device-readable but follows a "
                        + "device-writable one (VIRTIO 1.2 §2.7.4.2)");
            }
            (isWritable ? writable : readable).add(new DescriptorChain.Buffer(GuestAddress.of(addr), len,
                    isWritable));

            if ((flags & DESC_F_NEXT) == 0) {
                return new DescriptorChain(memory, head, readable, writable);
            }
            if (next >= tableSize) {
                throw new Violation("descriptor " + i + " chains to " + next + ", beyond its table of "
                        + tableSize + " entries (VIRTIO 1.2 §2.7.5)");
            }
            i = next;
        }
    }

    /**
     * Puts the chain with head descriptor {@code head} in the used ring with {@code written}
     * bytes written into its writable buffers, and publishes the new used index (§2.7.8).
     * Does nothing on a broken or inactive queue.
     */
    public void addUsed(int head, int written) {
        synchronized (this) {
            addUsedLocked(head, written);
        }
        report();
    }

    private void addUsedLocked(int head, int written) {
        if (!active || broken) {
            return;
        }
        checkUsedId(head);
        try {
            writeUsedElement(nextUsed, head, written);
            nextUsed = (nextUsed + 1) & 0xffff;
            // The element must be visible before the index that publishes it.
            VarHandle.releaseFence();
            memory.writeShort(usedAddr(2), (short) nextUsed);
        } catch (GuestMemoryException | ArithmeticException e) {
            fail(e.getMessage());
        }
    }

    private void checkUsedId(int head) {
        if (head < 0 || head >= size) {
            // The device passed us an id it did not pop: our bug, not the guest's.
            throw new IllegalArgumentException("queue " + index + ": used id " + head
                    + " is not a descriptor index of a queue of size " + size);
        }
    }

    /** Writes used-ring element {@code idx} (a u16 ring index) without publishing it. */
    private void writeUsedElement(int idx, int head, int written) {
        GuestAddress elem = usedAddr(4L + (long) USED_ELEMENT_SIZE * (idx & (size - 1)));
        memory.writeInt(elem, head);
        memory.writeInt(elem.checkedAdd(4), written);
    }

    /**
     * Puts {@code count} chains in the used ring in order and publishes them with one store of
     * the used index, so the driver sees all of them or none. virtio-net needs this for a
     * frame spread over several receive chains (VIRTIO_NET_F_MRG_RXBUF, VIRTIO 1.2 §5.1.6.4):
     * Linux reads num_buffers from the first chain and expects the rest to be in the ring
     * already. Does nothing on a broken or inactive queue.
     */
    public void addUsed(int[] heads, int[] written, int count) {
        synchronized (this) {
            addUsedLocked(heads, written, count);
        }
        report();
    }

    private void addUsedLocked(int[] heads, int[] written, int count) {
        if (!active || broken) {
            return;
        }
        if (count < 0 || count > size || count > heads.length || count > written.length) {
            throw new IllegalArgumentException("queue " + index + ": " + count + " used elements for a queue of size "
                    + size);
        }
        for (int k = 0; k < count; k++) {
            checkUsedId(heads[k]);
        }
        try {
            int idx = nextUsed;
            for (int k = 0; k < count; k++) {
                writeUsedElement(idx, heads[k], written[k]);
                idx = (idx + 1) & 0xffff;
            }
            nextUsed = idx;
            // The elements must be visible before the index that publishes them.
            VarHandle.releaseFence();
            memory.writeShort(usedAddr(2), (short) nextUsed);
        } catch (GuestMemoryException | ArithmeticException e) {
            fail(e.getMessage());
        }
    }

    /**
     * Whether the driver wants a used-buffer notification now, given the used entries published
     * since the last time this was asked (§2.7.7). With VIRTIO_F_EVENT_IDX: notify when used.idx
     * has passed used_event since the last decision, computed in u16 arithmetic so it holds
     * across the 0xffff wrap (Linux vring_need_event). Without it: unless the driver set
     * VIRTQ_AVAIL_F_NO_INTERRUPT. Also true for a broken queue, so the driver hears about it.
     */
    public boolean needsNotification() {
        boolean needed;
        synchronized (this) {
            needed = needsNotificationLocked();
        }
        report();
        return needed;
    }

    private boolean needsNotificationLocked() {
        if (!active) {
            return false;
        }
        if (broken) {
            return true;
        }
        try {
            // Our used.idx store must be globally visible before we read the driver's used_event.
            VarHandle.fullFence();
            if (eventIdx) {
                int usedEvent = u16(memory.readShort(availAddr(4L + 2L * size)));
                int old = signalledUsed;
                boolean valid = signalledUsedValid;
                signalledUsed = nextUsed;
                signalledUsedValid = true;
                if (!valid) {
                    return true;
                }
                return needEvent(usedEvent, nextUsed, old);
            }
            return (memory.readShort(availAddr(0)) & AVAIL_F_NO_INTERRUPT) == 0;
        } catch (GuestMemoryException | ArithmeticException e) {
            fail(e.getMessage());
            return true;
        }
    }

    /**
     * vring_need_event (§2.7.7.2, Linux include/uapi/linux/virtio_ring.h): true when
     * {@code event} lies in the half-open window (old, new] of u16 indices.
     */
    static boolean needEvent(int event, int newIdx, int oldIdx) {
        return ((newIdx - event - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
    }

    /**
     * Asks the driver to notify us about new available buffers (clears VIRTQ_USED_F_NO_NOTIFY or,
     * with event index, sets avail_event to the next entry we will consume, §2.7.10), then
     * returns whether buffers arrived meanwhile: a device loop ends only when this is false, so
     * no buffer added between its last pop and this call is left unnoticed.
     */
    public boolean enableNotification() {
        boolean more;
        synchronized (this) {
            more = enableNotificationLocked();
        }
        report();
        return more;
    }

    private boolean enableNotificationLocked() {
        if (!active || broken) {
            return false;
        }
        try {
            if (eventIdx) {
                memory.writeShort(usedAddr(4L + (long) USED_ELEMENT_SIZE * size), (short) nextAvail);
            } else {
                memory.writeShort(usedAddr(0), (short) 0);
            }
            VarHandle.fullFence();
            return u16(memory.readShort(availAddr(2))) != nextAvail;
        } catch (GuestMemoryException | ArithmeticException e) {
            fail(e.getMessage());
            return false;
        }
    }

    /**
     * Tells the driver it need not notify us (sets VIRTQ_USED_F_NO_NOTIFY; with event index the
     * driver ignores that flag and we simply stop advancing avail_event, §2.7.10).
     */
    public void disableNotification() {
        synchronized (this) {
            disableNotificationLocked();
        }
        report();
    }

    private void disableNotificationLocked() {
        if (!active || broken || eventIdx) {
            return;
        }
        try {
            memory.writeShort(usedAddr(0), (short) USED_F_NO_NOTIFY);
        } catch (GuestMemoryException | ArithmeticException e) {
            fail(e.getMessage());
        }
    }

    /**
     * {@link #pop}, and when nothing is available, asks the driver for a notification (§2.7.10)
     * and looks once more: buffers the driver added between the empty pop and the re-enabled
     * notification would otherwise wait for a notification it had been told not to send. For a
     * queue the device fills when it has something to give the driver (a receive queue): it
     * keeps notifications enabled whenever it is out of buffers, so it hears of new ones.
     */
    public DescriptorChain popOrEnableNotification() {
        DescriptorChain chain = pop();
        if (chain == null && enableNotification()) {
            chain = pop();
        }
        return chain;
    }

    /** What a device does with one chain in {@link #processAvailable}. */
    @FunctionalInterface
    public interface ChainHandler {
        /**
         * Serves one request. Returns the used length, the number of bytes written into the
         * chain's device-writable buffers (§2.7.8.2; a u32, since a chain is shorter than 2^32
         * bytes, §2.7.5.2), or {@link #BROKE_QUEUE} after breaking the queue with {@link
         * #deviceTypeViolation}.
         */
        long handle(DescriptorChain chain);
    }

    /** A {@link ChainHandler}'s answer after it broke the queue: the chain is not returned. */
    public static final long BROKE_QUEUE = -1;

    /**
     * The device loop for a queue whose requests the driver starts (transmit queues, block
     * requests, entropy requests): with notifications suppressed, pops every available chain,
     * hands it to {@code handler} and returns it with the used length the handler reports; then
     * re-enables notifications and starts again if buffers arrived meanwhile, so none added
     * between the last pop and the re-enabling is missed (§2.7.13.3, §2.7.10; Linux vhost's
     * handle_tx loop). Stops at once when the handler broke the queue.
     *
     * @return whether the device must call {@link VirtioInterrupt#usedBuffers}: a chain was
     *         returned, or the handler broke the queue (the transport then tells the driver,
     *         §2.1.2)
     */
    public boolean processAvailable(ChainHandler handler) {
        boolean used = false;
        do {
            disableNotification();
            DescriptorChain chain;
            while ((chain = pop()) != null) {
                long written = handler.handle(chain);
                if (written < 0) { // BROKE_QUEUE
                    return true;
                }
                addUsed(chain.head(), (int) written); // a u32 (see ChainHandler.handle)
                used = true;
            }
        } while (enableNotification());
        return used;
    }

    /**
     * Breaks the queue because a chain the device popped violates a rule of the device type
     * (for example a virtio-blk request without its header or status byte, VIRTIO 1.2 §5.2.6):
     * the ring itself was well formed, but the request cannot be answered. The effect is that
     * of a ring violation: the counter goes up, the listener is told (the transport sets
     * DEVICE_NEEDS_RESET, §2.1.2) and the queue does nothing more until reset. Does nothing on a
     * queue that is already broken or not active.
     */
    public void deviceTypeViolation(String reason) {
        synchronized (this) {
            if (active && !broken) {
                fail(reason);
            }
        }
        report();
    }

    private GuestAddress availAddr(long offset) {
        return GuestAddress.of(availRing).checkedAdd(offset);
    }

    private GuestAddress usedAddr(long offset) {
        return GuestAddress.of(usedRing).checkedAdd(offset);
    }

    private static int u16(short v) {
        return v & 0xffff;
    }

    /**
     * Records a violation and breaks the queue. The queue does not log: its listener (the
     * transport) knows which device this is and rate-limits the one line it writes.
     */
    private void fail(String reason) {
        violations++;
        broken = true;
        brokenReason = reason;
        unreported = reason;
    }

    /**
     * Tells the listener about a violation recorded under the lock. Called after the lock is
     * released: the listener (the transport) takes its own lock, and the transport calls into
     * queues while holding it, so calling out under ours could deadlock.
     */
    private void report() {
        String reason;
        synchronized (this) {
            reason = unreported;
            unreported = null;
        }
        if (reason != null) {
            listener.violated(this, reason);
        }
    }

    @Override
    public synchronized String toString() {
        return "Virtqueue[" + index + ", size=" + size + (active ? ", active" : "")
                + (broken ? ", broken: " + brokenReason : "") + "]";
    }
}
