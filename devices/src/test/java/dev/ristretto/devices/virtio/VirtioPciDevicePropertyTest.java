package dev.ristretto.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.memory.GuestAddress;

import java.lang.foreign.Arena;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * A guest poking random values at random offsets and widths of configuration space and BAR 0,
 * interleaved with notifications and random ring contents: nothing may throw out of the
 * transport (an exception would reach the vCPU loop), and nothing outside guest RAM is touched.
 */
class VirtioPciDevicePropertyTest {

    private static final int[] WIDTHS = {1, 2, 4, 8};

    private static void write(VirtioPciDevice dev, int field, long value, int width) {
        byte[] b = new byte[width];
        for (int i = 0; i < width; i++) {
            b[i] = (byte) (value >>> (8 * i));
        }
        dev.writeBar(0, field, b);
    }

    private static void bringUp(VirtioPciDevice dev, QueueDriver ring) {
        write(dev, VirtioPciDevice.DEVICE_STATUS, 3, 1);
        write(dev, VirtioPciDevice.DRIVER_FEATURE_SELECT, 1, 4);
        write(dev, VirtioPciDevice.DRIVER_FEATURE, 1, 4);
        write(dev, VirtioPciDevice.DEVICE_STATUS, 0xb, 1);
        write(dev, VirtioPciDevice.QUEUE_SIZE, ring.size, 2);
        write(dev, VirtioPciDevice.QUEUE_DESC, ring.desc, 8);
        write(dev, VirtioPciDevice.QUEUE_DRIVER, ring.avail, 8);
        write(dev, VirtioPciDevice.QUEUE_DEVICE, ring.used, 8);
        write(dev, VirtioPciDevice.QUEUE_ENABLE, 1, 2);
        write(dev, VirtioPciDevice.DEVICE_STATUS, 0xf, 1);
        for (int i = 0; i < ring.size; i++) {
            ring.descriptor(i, QueueDriver.RAM_BASE + 0x8_0000 + 0x100L * i, 0x40, Virtqueue.DESC_F_WRITE, 0);
        }
    }

    @Test
    void randomRegisterTrafficNeverEscapes() {
        long seed = Long.getLong("ristretto.seed", 0x5eed_0002L);
        Random rnd = new Random(seed);
        long bytes = 0;
        long violations = 0;
        for (int round = 0; round < 200; round++) {
            try (Arena arena = Arena.ofConfined()) {
                QueueDriver ring = new QueueDriver(arena, 8);
                VirtioRng rng = new VirtioRng(b -> rnd.nextBytes(b));
                VirtioPciDevice dev = new VirtioPciDevice(rng, ring.memory,
                        (v, m) -> { }, asserted -> { });
                dev.setBarAddress(0, 0x1_0000_0000L);
                if (rnd.nextBoolean()) {
                    // Half the rounds start from a correctly running queue, so the random traffic
                    // also hits the data path and not only the setup registers.
                    bringUp(dev, ring);
                }
                for (int step = 0; step < 300; step++) {
                    int width = WIDTHS[rnd.nextInt(WIDTHS.length)];
                    byte[] data = new byte[width];
                    rnd.nextBytes(data);
                    switch (rnd.nextInt(8)) {
                        case 0 -> dev.writeConfig(rnd.nextInt(256), data);
                        case 1 -> dev.readConfig(rnd.nextInt(256), data);
                        case 2 -> dev.readBar(0, rnd.nextInt(0x8000), data);
                        case 3 -> dev.notifyQueue(rnd.nextInt(3) - 1);
                        case 4 -> ring.memory.writeLong(GuestAddress.of(ring.desc + 8L * rnd.nextInt(32)), rnd.nextLong());
                        case 5 -> ring.offer(rnd.nextInt(ring.size));
                        case 6 -> {
                            // Drive the registers that matter towards a running queue.
                            int[] fields = {0x14, 0x16, 0x18, 0x1c, 0x20, 0x28, 0x30, 0x0c, 0x08};
                            int f = fields[rnd.nextInt(fields.length)];
                            long value = switch (f) {
                                case 0x14 -> rnd.nextInt(16);
                                case 0x18 -> 1 << rnd.nextInt(5);
                                case 0x20 -> ring.desc;
                                case 0x28 -> ring.avail;
                                case 0x30 -> ring.used;
                                case 0x0c -> rnd.nextBoolean() ? 1 : 0x3000_0000L;
                                default -> rnd.nextInt(3);
                            };
                            int w = f >= 0x20 ? 8 : f == 0x14 ? 1 : f == 0x0c || f == 0x08 ? 4 : 2;
                            byte[] b = new byte[w];
                            for (int i = 0; i < w; i++) {
                                b[i] = (byte) (value >>> (8 * i));
                            }
                            dev.writeBar(0, f, b);
                        }
                        default -> dev.writeBar(0, rnd.nextInt(0x8000), data);
                    }
                }
                assertTrue(ring.guardsIntact(), "seed " + seed + " round " + round);
                bytes += rng.bytesProvided();
                violations += dev.violations();
            }
        }
        // The traffic must get queues running and also trip the checks, or it proves little.
        assertTrue(bytes > 0, "no entropy was ever delivered");
        assertTrue(violations > 0, "no violation was ever detected");
    }
}
