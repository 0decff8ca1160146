package dev.ristretto.firmware;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ristretto.vmm.memory.GuestAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Parses Debian 12's cloud kernel (fetched by guest-images/fetch-debian-kernel.sh into a cache
 * outside the repository) and checks the header values the boot relies on. Values that are fixed
 * by the kernel's configuration are asserted exactly; sizes that change with every Debian point
 * release (init_size, the payload) are asserted to be in the expected range and consistent.
 * Skips, with the script's reason, when the kernel cannot be fetched.
 */
class DebianKernelTest {
    private static BzImage kernel;
    private static long fileSize;

    @BeforeAll
    static void fetch() throws IOException, InterruptedException {
        Path root = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        while (root != null && !Files.isRegularFile(root.resolve("guest-images/fetch-debian-kernel.sh"))) {
            root = root.getParent();
        }
        assumeTrue(root != null, "guest-images/fetch-debian-kernel.sh not found above " + System.getProperty("user.dir"));
        // Both streams go to files: apt-get's progress on stderr could otherwise fill a pipe and
        // stall the script while we wait for it.
        Path out = Files.createTempFile("fetch-kernel", ".out");
        Path err = Files.createTempFile("fetch-kernel", ".err");
        String cacheDir;
        try {
            Process p = new ProcessBuilder("bash", root.resolve("guest-images/fetch-debian-kernel.sh").toString(), "cloud")
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .start();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                assumeTrue(false, "fetch-debian-kernel.sh cloud did not finish within 10 minutes");
            }
            assumeTrue(p.exitValue() == 0, "fetch-debian-kernel.sh cloud exited " + p.exitValue() + ": "
                    + Files.readString(err).trim());
            cacheDir = Files.readString(out).trim();
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
        Path vmlinuz = Path.of(cacheDir).resolve("vmlinuz");
        fileSize = Files.size(vmlinuz);
        kernel = BzImage.load(vmlinuz);
    }

    @Test
    void headerHasTheValuesOfDebiansCloudKernel() {
        assertEquals("2.15", kernel.protocolVersion());
        assertTrue(kernel.relocatable());
        assertEquals(0x7f, kernel.xloadflags()); // XLF_KERNEL_64 ... XLF_5LEVEL_ENABLED
        assertTrue(kernel.canLoadAbove4G());
        assertEquals(0x20_0000L, kernel.kernelAlignment()); // CONFIG_PHYSICAL_ALIGN = 2 MiB
        assertEquals(21, kernel.minAlignmentLog2());
        assertEquals(0x100_0000L, kernel.prefAddress()); // CONFIG_PHYSICAL_START = 16 MiB
        assertEquals(2047, kernel.cmdlineSize()); // COMMAND_LINE_SIZE 2048 minus the NUL
        assertEquals(0x7fff_ffffL, kernel.initrdAddrMax());
        assertEquals(0x26c, kernel.setupHeaderEnd());
        assertEquals(BzImage.LOADED_HIGH, kernel.loadflags() & BzImage.LOADED_HIGH);
        // init_size is ~51.5 MiB for the 6.1 cloud kernel: LZ4 decompression needs room.
        assertTrue(kernel.initSize() > 40 * Layout.MIB && kernel.initSize() < 64 * Layout.MIB,
                "init_size 0x" + Long.toHexString(kernel.initSize()));
        assertTrue(kernel.payloadLength() > 8 * Layout.MIB && kernel.payloadLength() < kernel.initSize());
        assertTrue(kernel.payloadOffset() + kernel.payloadLength() <= fileSize);
    }

    @Test
    void plansA256MiBBootAtPrefAddress() {
        LinuxBootPlan plan = LinuxBoot.plan(MemoryLayout.forRam(256 * Layout.MIB), kernel, "console=ttyS0");
        assertEquals(GuestAddress.of(0x100_0000L), plan.kernelAddress());
        assertEquals(0x100_0200L, plan.entry().rip());
        byte[] zp = plan.bootParams();
        assertEquals((byte) 0x55, zp[0x1fe]);
        assertEquals((byte) 0xaa, zp[0x1ff]);
        assertEquals((byte) 0x0f, zp[0x206]);
        assertEquals((byte) 0xff, zp[0x210]);
    }

    @Test
    void refusesA32MiBGuestNamingTheSizeNeeded() {
        String m = assertThrows(BootSetupException.class,
                () -> LinuxBoot.plan(MemoryLayout.forRam(32 * Layout.MIB), kernel, "")).getMessage();
        assertTrue(m.contains("(init_size) from its load address 0x200000"), m);
        assertTrue(m.contains("raise --memory to at least"), m);
    }
}
