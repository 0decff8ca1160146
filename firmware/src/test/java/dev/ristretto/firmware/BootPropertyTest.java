package dev.ristretto.firmware;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Randomised checks of everything that parses user input: damaged kernel headers must be refused
 * with a {@link KernelImageException} (never another exception), and every boot that is planned
 * must keep the kernel and initrd inside usable RAM, aligned, and apart. Seeds are fixed so a
 * failure reproduces; the seed is in the failure message.
 */
class BootPropertyTest {
    private static final int RUNS = 3000;
    private static final Pattern ADVICE = Pattern.compile("raise --memory to at least (\\d+) MiB");

    @Test
    void damagedHeadersParseOrFailCleanly() {
        for (int seed = 0; seed < RUNS; seed++) {
            Random r = new Random(seed);
            ByteBuffer b = TestKernels.valid();
            int flips = 1 + r.nextInt(4);
            for (int i = 0; i < flips; i++) {
                b.put(0x1f0 + r.nextInt(0x80), (byte) r.nextInt(256));
            }
            byte[] bytes = b.array();
            if (r.nextInt(4) == 0) {
                bytes = Arrays.copyOf(bytes, r.nextInt(bytes.length + 1));
            }
            try {
                BzImage k = BzImage.parse("fuzz", bytes);
                assertTrue(k.payloadOffset() + k.payloadLength() <= bytes.length, "seed " + seed);
                assertTrue(k.initSize() >= k.payloadLength(), "seed " + seed);
                assertTrue(k.setupHeaderEnd() >= 0x264 && k.setupHeaderEnd() <= 0x290, "seed " + seed);
                assertTrue(k.protocol() >= BzImage.MIN_PROTOCOL, "seed " + seed);
                assertEquals(0x202 + Byte.toUnsignedInt(bytes[0x201]), k.setupHeaderEnd(), "seed " + seed);
                assertEquals(k.setupHeaderEnd() - 0x1f1, k.setupHeader().length, "seed " + seed);
            } catch (KernelImageException e) {
                assertTrue(e.getMessage().startsWith("kernel fuzz: "), "seed " + seed + ": " + e.getMessage());
            } catch (RuntimeException e) {
                fail("seed " + seed + ": unexpected " + e, e);
            }
        }
    }

    @Test
    void plannedBootsKeepKernelAndInitrdInRamAndApart() {
        int planned = 0;
        int advised = 0;
        for (int seed = 0; seed < RUNS; seed++) {
            Random r = new Random(seed);
            long ram = (32 + r.nextInt(8 * 1024)) * Layout.MIB + r.nextInt(256) * Layout.PAGE_SIZE;
            ByteBuffer b = TestKernels.valid();
            long initSize = TestKernels.PAYLOAD_LENGTH + (long) r.nextInt(100 << 20);
            b.putInt(0x260, (int) initSize);
            boolean relocatable = r.nextBoolean();
            b.put(0x234, (byte) (relocatable ? 1 : 0));
            long align = 1L << (12 + r.nextInt(11));
            b.putInt(0x230, (int) align);
            b.putLong(0x258, switch (r.nextInt(4)) {
                case 0 -> r.nextLong(); // anything a damaged header may hold
                case 1 -> (long) r.nextInt(64 << 20);
                default -> TestKernels.PREF_ADDRESS;
            });
            long addrMax = r.nextBoolean() ? 0x7fff_ffffL : 0x0100_0000L + (r.nextInt() & 0x7fff_ffffL);
            b.putInt(0x22c, (int) addrMax);
            boolean above4G = r.nextBoolean();
            b.putShort(0x236, (short) (BzImage.XLF_KERNEL_64 | (above4G ? BzImage.XLF_CAN_BE_LOADED_ABOVE_4G : 0)));
            long initrdSize = 1 + (r.nextLong() & Long.MAX_VALUE) % (r.nextBoolean() ? 64 << 20 : 4L << 30);

            BzImage k = TestKernels.parse(b);
            MemoryLayout m = MemoryLayout.forRam(ram);
            LinuxBootPlan p;
            try {
                p = LinuxBoot.plan(m, k, new Initrd.FromFile(Path.of("rd"), initrdSize), "console=ttyS0");
            } catch (BootSetupException e) {
                assertTrue(e.getMessage().startsWith("kernel ") || e.getMessage().startsWith("initrd "), "seed " + seed);
                // When the message names a memory size, that size must work.
                Matcher advice = ADVICE.matcher(e.getMessage());
                if (advice.find()) {
                    long suggested = Long.parseLong(advice.group(1)) * Layout.MIB;
                    assertTrue(suggested > ram, "seed " + seed + ": " + e.getMessage());
                    if (suggested <= Layout.MAX_RAM) {
                        LinuxBoot.plan(MemoryLayout.forRam(suggested), k, new Initrd.FromFile(Path.of("rd"), initrdSize), "");
                        advised++;
                    }
                }
                continue;
            }
            planned++;
            String ctx = "seed " + seed + ": " + p;
            long kStart = p.kernelAddress().value();
            long kEnd = p.kernelEnd().value();
            assertTrue(kStart >= Layout.HIGH_MEMORY_START.value() && kEnd <= m.lowRamEnd().value(), ctx);
            if (relocatable) {
                assertEquals(0, kStart % align, ctx);
            } else {
                assertEquals(k.prefAddress(), kStart, ctx);
            }
            long iStart = p.initrdAddress().orElseThrow().value();
            long iEnd = iStart + initrdSize;
            assertEquals(0, iStart % Layout.PAGE_SIZE, ctx);
            assertTrue(iEnd <= kStart || iStart >= kEnd, "initrd overlaps kernel; " + ctx);
            assertTrue(iStart >= Layout.HIGH_MEMORY_START.value(), ctx);
            assertTrue(m.e820().stream().anyMatch(e -> e.type() == E820Entry.Type.RAM
                    && e.start().value() <= iStart && iEnd <= e.end().value()), "initrd outside RAM; " + ctx);
            assertTrue(iEnd - 1 <= addrMax || above4G && iStart >= Layout.HIGH_RAM_START.value(), ctx);
        }
        assertTrue(planned > RUNS / 4, "only " + planned + " of " + RUNS + " random boots could be planned");
        assertTrue(advised > RUNS / 20, "only " + advised + " of " + RUNS + " random boots exercised the --memory advice");
    }
}
