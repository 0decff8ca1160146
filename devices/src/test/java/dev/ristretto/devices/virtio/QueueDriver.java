package dev.ristretto.devices.virtio;

import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.memory.GuestRegion;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The driver side of a split virtqueue, as a test double: it writes descriptor tables and the
 * available ring into guest memory the way Linux's virtio_ring.c does, and reads the used ring.
 * Every write goes through GuestMemory, so the test sees exactly what the device will see.
 * Public so the device tests in the block, net and console packages drive queues the same way.
 */
public final class QueueDriver {
    /** Guest RAM starts above zero so that "below RAM" is a real case. */
    public static final long RAM_BASE = 0x10_0000;
    public static final long RAM_SIZE = 0x10_0000;
    /** Bytes of host memory on each side of guest RAM that the device must never touch. */
    static final int GUARD = 4096;

    final MemorySegment backing;
    public final GuestMemory memory;
    public final int size;
    public final long desc;
    public final long avail;
    public final long used;
    private int availIdx;

    public QueueDriver(Arena arena, int size) {
        this(arena, size, RAM_BASE + 0x1000);
    }

    public QueueDriver(Arena arena, int size, long ringBase) {
        backing = arena.allocate(RAM_SIZE + 2L * GUARD, 4096);
        backing.fill((byte) 0x5a);
        MemorySegment ram = backing.asSlice(GUARD, RAM_SIZE);
        ram.fill((byte) 0);
        memory = GuestMemory.of(List.of(new GuestRegion(GuestAddress.of(RAM_BASE), ram)));
        this.size = size;
        desc = ringBase;
        avail = align(desc + 16L * size, 2);
        used = align(avail + 6 + 2L * size, 4);
    }

    /** A second queue's driver in the same guest RAM as {@code sameRam}, rings at {@code ringBase}. */
    public QueueDriver(QueueDriver sameRam, int size, long ringBase) {
        backing = sameRam.backing;
        memory = sameRam.memory;
        this.size = size;
        desc = ringBase;
        avail = align(desc + 16L * size, 2);
        used = align(avail + 6 + 2L * size, 4);
    }

    private static long align(long v, long a) {
        return (v + a - 1) & -a;
    }

    /** A queue configured with this driver's rings, activated with {@code features}. */
    Virtqueue queue(int maxSize, long features, Virtqueue.ViolationListener listener) {
        return queue(0, maxSize, features, listener);
    }

    /** Queue number {@code index} configured with this driver's rings, activated with {@code features}. */
    public Virtqueue queue(int index, int maxSize, long features, Virtqueue.ViolationListener listener) {
        Virtqueue q = new Virtqueue(index, maxSize, listener);
        q.setSize(size);
        q.setDescTable(desc);
        q.setAvailRing(avail);
        q.setUsedRing(used);
        q.setEnabled(true);
        q.activate(memory, features);
        return q;
    }

    public void descriptor(long table, int i, long addr, int len, int flags, int next) {
        GuestAddress at = GuestAddress.of(table + 16L * i);
        memory.writeLong(at, addr);
        memory.writeInt(at.checkedAdd(8), len);
        memory.writeShort(at.checkedAdd(12), (short) flags);
        memory.writeShort(at.checkedAdd(14), (short) next);
    }

    public void descriptor(int i, long addr, int len, int flags, int next) {
        descriptor(desc, i, addr, len, flags, next);
    }

    /** Puts {@code head} in the next available slot and publishes the new index. */
    public void offer(int head) {
        memory.writeShort(GuestAddress.of(avail + 4 + 2L * (availIdx % size)), (short) head);
        availIdx = (availIdx + 1) & 0xffff;
        // Like virtio_wmb() in Linux: the entry must be visible before the index publishing it.
        java.lang.invoke.VarHandle.releaseFence();
        memory.writeShort(GuestAddress.of(avail + 2), (short) availIdx);
    }

    /** Sets avail.idx directly (to model a driver that lies about it). */
    public void setAvailIdx(int idx) {
        availIdx = idx & 0xffff;
        memory.writeShort(GuestAddress.of(avail + 2), (short) availIdx);
    }

    public void setAvailFlags(int flags) {
        memory.writeShort(GuestAddress.of(avail), (short) flags);
    }

    public void setUsedEvent(int v) {
        memory.writeShort(GuestAddress.of(avail + 4 + 2L * size), (short) v);
    }

    public int usedFlags() {
        return memory.readShort(GuestAddress.of(used)) & 0xffff;
    }

    public int usedIdx() {
        return memory.readShort(GuestAddress.of(used + 2)) & 0xffff;
    }

    public int availEvent() {
        return memory.readShort(GuestAddress.of(used + 4 + 8L * size)) & 0xffff;
    }

    /** {id, len} of used-ring element {@code n} (modulo the size). */
    public int[] usedElement(int n) {
        GuestAddress at = GuestAddress.of(used + 4 + 8L * (n % size));
        return new int[] {memory.readInt(at), memory.readInt(at.checkedAdd(4))};
    }

    /** True when the guard bytes on both sides of guest RAM are untouched. */
    public boolean guardsIntact() {
        for (int i = 0; i < GUARD; i++) {
            if (backing.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) != 0x5a
                    || backing.get(java.lang.foreign.ValueLayout.JAVA_BYTE, GUARD + RAM_SIZE + i) != 0x5a) {
                return false;
            }
        }
        return true;
    }
}
