package dev.ristretto.devices.virtio;

import static dev.ristretto.devices.pci.LittleEndian.le;
import static dev.ristretto.devices.pci.LittleEndian.val;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.devices.pci.PciBarAllocator;
import dev.ristretto.devices.pci.PciConfigSpace;
import dev.ristretto.devices.pci.PciHostBridge;
import dev.ristretto.devices.pci.PciRoot;
import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.device.IrqLine;
import dev.ristretto.vmm.memory.GuestAddress;

import java.lang.foreign.Arena;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * virtio-rng the way a freestanding test guest will meet it: enumerate PCI through ports
 * 0xCF8/0xCFC, find 1af4:1044, enable memory decoding, read BAR 0, walk the virtio
 * capabilities, negotiate, set up the queue with plain MMIO accesses on the bus, post
 * buffers, notify, and read the used ring.
 */
class VirtioRngTest {

    private static final long MMIO32 = 0xc000_0000L;
    private static final long MMIO64 = 0x1_0000_0000L;
    private static final long BUF = QueueDriver.RAM_BASE + 0x8_0000;

    private Bus io;
    private Bus mmio;

    private void out(int port, long v, int size) {
        io.write(port, le(v, size));
    }

    private long in(int port, int size) {
        byte[] b = new byte[size];
        io.read(port, b);
        return val(b);
    }

    private long cfg(int device, int reg, int size) {
        out(PciRoot.CONFIG_ADDRESS_PORT, 0x8000_0000L | device << 11 | (reg & 0xfc), 4);
        return in(PciRoot.CONFIG_DATA_PORT + (reg & 3), size);
    }

    private void cfg(int device, int reg, long v, int size) {
        out(PciRoot.CONFIG_ADDRESS_PORT, 0x8000_0000L | device << 11 | (reg & 0xfc), 4);
        out(PciRoot.CONFIG_DATA_PORT + (reg & 3), v, size);
    }

    private long mmioRead(long addr, int size) {
        byte[] b = new byte[size];
        mmio.read(addr, b);
        return val(b);
    }

    private void mmioWrite(long addr, long v, int size) {
        mmio.write(addr, le(v, size));
    }

    @Test
    void aPollingGuestReadsEntropyThroughPci() {
        try (Arena arena = Arena.ofConfined()) {
            QueueDriver ring = new QueueDriver(arena, 8);
            List<Boolean> intx = new ArrayList<>();
            VirtioRng rng = new VirtioRng(new SecureRandom()::nextBytes);
            VirtioPciDevice dev = new VirtioPciDevice(rng, ring.memory, (v, m) -> { }, (IrqLine) intx::add);
            PciRoot root = new PciRoot(new PciHostBridge());
            root.add(dev);
            new PciBarAllocator(new PciBarAllocator.Window("mmio32", MMIO32, 0x1000_0000L),
                    new PciBarAllocator.Window("mmio64", MMIO64, 1L << 32),
                    new PciBarAllocator.Window("io", 0x1000, 0x1000)).assign(dev);
            io = Bus.builder("io")
                    .insert(PciRoot.CONFIG_ADDRESS_PORT, 4, "pci-address", root.configAddressPort())
                    .insert(PciRoot.CONFIG_DATA_PORT, 4, "pci-data", root.configDataPort())
                    .build();
            mmio = Bus.builder("mmio")
                    .insert(MMIO32, 0x1000_0000L, "pci-mmio32", root.memoryWindow(MMIO32))
                    .insert(MMIO64, 1L << 32, "pci-mmio64", root.memoryWindow(MMIO64))
                    .build();

            // Enumerate bus 0.
            int slot = -1;
            for (int d = 0; d < 32; d++) {
                if (cfg(d, 0, 4) == 0x1044_1af4L) {
                    slot = d;
                }
            }
            assertEquals(1, slot, "virtio-rng in the first slot after the host bridge");
            cfg(slot, PciConfigSpace.COMMAND, PciConfigSpace.COMMAND_MEMORY_SPACE | PciConfigSpace.COMMAND_BUS_MASTER, 2);
            long bar = (cfg(slot, 0x10, 4) & ~0xfL) | cfg(slot, 0x14, 4) << 32;
            assertEquals(MMIO64, bar, "the 64-bit BAR went to the 64-bit window");

            long common = -1;
            long notify = -1;
            long multiplier = -1;
            long isr = -1;
            int ptr = (int) cfg(slot, PciConfigSpace.CAPABILITIES_POINTER, 1);
            while (ptr != 0) {
                if (cfg(slot, ptr, 1) == 0x09) {
                    int type = (int) cfg(slot, ptr + 3, 1);
                    long offset = cfg(slot, ptr + 8, 4);
                    switch (type) {
                        case 1 -> common = bar + offset;
                        case 2 -> {
                            notify = bar + offset;
                            multiplier = cfg(slot, ptr + 16, 4);
                        }
                        case 3 -> isr = bar + offset;
                        default -> { }
                    }
                }
                ptr = (int) cfg(slot, ptr + 1, 1);
            }
            assertTrue(common > 0 && notify > 0 && isr > 0);

            mmioWrite(common + 0x14, 0, 1);
            mmioWrite(common + 0x14, 3, 1);
            mmioWrite(common + 0x08, 1, 4);
            mmioWrite(common + 0x0c, 1, 4); // VERSION_1 only
            mmioWrite(common + 0x14, 0xb, 1);
            assertEquals(0xb, mmioRead(common + 0x14, 1));
            mmioWrite(common + 0x16, 0, 2);
            mmioWrite(common + 0x18, ring.size, 2);
            mmioWrite(common + 0x20, ring.desc, 8);
            mmioWrite(common + 0x28, ring.avail, 8);
            mmioWrite(common + 0x30, ring.used, 8);
            mmioWrite(common + 0x1c, 1, 2);
            mmioWrite(common + 0x14, 0xf, 1);
            assertEquals(0xf, mmioRead(common + 0x14, 1));

            ring.descriptor(0, BUF, 64, Virtqueue.DESC_F_WRITE, 0);
            ring.offer(0);
            long notifyOff = mmioRead(common + 0x1e, 2);
            mmioWrite(notify + notifyOff * multiplier, 0, 2);

            assertEquals(1, ring.usedIdx());
            assertArrayEquals(new int[] {0, 64}, ring.usedElement(0));
            assertNotEquals(0L, ring.memory.readLong(GuestAddress.of(BUF)) | ring.memory.readLong(GuestAddress.of(BUF + 8)),
                    "128 random bits are not all zero");
            assertEquals(1, mmioRead(isr, 1), "polling guests see the queue bit in the ISR");
            assertEquals(List.of(true, false), intx);
            assertEquals(0, dev.violations());
        }
    }

    @Test
    void requestsAreCappedAndReadableBuffersIgnored() {
        try (Arena arena = Arena.ofConfined()) {
            QueueDriver ring = new QueueDriver(arena, 4);
            VirtioRng rng = new VirtioRng(buf -> java.util.Arrays.fill(buf, (byte) 0x77));
            Virtqueue q = ring.queue(4, VirtioPciDevice.TRANSPORT_FEATURES, Virtqueue.ViolationListener.NONE);
            List<Integer> signalled = new ArrayList<>();
            rng.activate(ring.memory, List.of(q), VirtioPciDevice.TRANSPORT_FEATURES, new VirtioInterrupt() {
                @Override
                public void usedBuffers(int queue) {
                    signalled.add(queue);
                }

                @Override
                public void configChanged() {
                }
            });
            ring.descriptor(0, BUF, 4, Virtqueue.DESC_F_NEXT, 1);
            ring.descriptor(1, BUF + 0x1000, VirtioRng.MAX_BYTES_PER_REQUEST + 4096, Virtqueue.DESC_F_WRITE, 0);
            ring.offer(0);
            rng.processQueue(0);
            assertArrayEquals(new int[] {0, VirtioRng.MAX_BYTES_PER_REQUEST}, ring.usedElement(0));
            assertEquals(0, ring.memory.readByte(GuestAddress.of(BUF)), "the readable buffer is untouched");
            assertEquals(0x77, ring.memory.readByte(GuestAddress.of(BUF + 0x1000)));
            assertEquals(0, ring.memory.readByte(GuestAddress.of(BUF + 0x1000 + VirtioRng.MAX_BYTES_PER_REQUEST)));
            assertEquals(List.of(0), signalled);

            rng.reset();
            ring.offer(0);
            rng.processQueue(0);
            assertEquals(1, ring.usedIdx(), "a reset device does no work");
        }
    }
}
