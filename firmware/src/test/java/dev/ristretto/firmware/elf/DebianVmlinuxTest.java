package dev.ristretto.firmware.elf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ristretto.firmware.BzImage;
import dev.ristretto.firmware.Layout;
import dev.ristretto.firmware.MemoryLayout;
import dev.ristretto.firmware.pvh.PvhBoot;
import dev.ristretto.vmm.memory.GuestAddress;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Parses a real vmlinux: the one inside Debian 12's cloud kernel (fetched by
 * guest-images/fetch-debian-kernel.sh into a cache outside the repository), unpacked with
 * unlz4 from the bzImage's LZ4 payload (CONFIG_KERNEL_LZ4=y). This is the file Firecracker or
 * QEMU would be given for an ELF boot. Skips, with the reason, when the kernel cannot be fetched
 * or unlz4 is missing.
 */
class DebianVmlinuxTest {
    /** Legacy LZ4 frame magic 0x184C2102 as stored (little-endian), what Linux's lz4 build emits. */
    private static final byte[] LZ4_LEGACY_MAGIC = {0x02, 0x21, 0x4c, 0x18};

    private static Path vmlinux;
    private static ElfKernel kernel;

    /** Runs {@code command} and returns its standard output; skips with its stderr when it fails. */
    private static String run(Path dir, String... command) throws IOException, InterruptedException {
        // Both streams go to files: a chatty stderr could otherwise fill a pipe and stall the tool.
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        try {
            Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                assumeTrue(false, String.join(" ", command) + " did not finish within 10 minutes");
            }
            assumeTrue(p.exitValue() == 0, String.join(" ", command) + " exited " + p.exitValue() + ": "
                    + Files.readString(err).trim());
            return Files.readString(out);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    @BeforeAll
    static void unpack() throws IOException, InterruptedException {
        Path root = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        while (root != null && !Files.isRegularFile(root.resolve("guest-images/fetch-debian-kernel.sh"))) {
            root = root.getParent();
        }
        assumeTrue(root != null, "guest-images/fetch-debian-kernel.sh not found above " + System.getProperty("user.dir"));
        boolean haveUnlz4 = Arrays.stream(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
                .anyMatch(d -> Files.isExecutable(Path.of(d, "unlz4")));
        assumeTrue(haveUnlz4, "unlz4 is not installed (Debian package lz4); it unpacks the vmlinux from the bzImage");
        Path work = Files.createDirectories(Path.of("target", "debian-vmlinux").toAbsolutePath());
        Path cache = Path.of(run(work, "bash", root.resolve("guest-images/fetch-debian-kernel.sh").toString(), "cloud").trim());
        String config = Files.readString(cache.resolve("config"));
        assumeTrue(config.contains("\nCONFIG_KERNEL_LZ4=y\n"), "the cached kernel is not LZ4-compressed");

        // boot.rst, payload_offset (0x248) and payload_length (0x24c), protocol 2.08+: where the
        // compressed kernel lies inside the protected-mode code. Linux's build appends the
        // uncompressed size as the last 4 bytes (scripts/Makefile.lib, size_append), which unlz4
        // would take for another block, so those are left out.
        BzImage image = BzImage.load(cache.resolve("vmlinuz"));
        byte[] file = Files.readAllBytes(cache.resolve("vmlinuz"));
        ByteBuffer header = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int at = Math.toIntExact(image.payloadOffset() + Integer.toUnsignedLong(header.getInt(0x248)));
        int length = Math.toIntExact(Integer.toUnsignedLong(header.getInt(0x24c)));
        assertTrue(length > 4 && at + length <= file.length, "payload_offset/payload_length outside the file");
        assertArrayEquals(LZ4_LEGACY_MAGIC, Arrays.copyOfRange(file, at, at + 4), "payload is not a legacy LZ4 stream");
        Path compressed = work.resolve("vmlinux.lz4");
        Files.write(compressed, Arrays.copyOfRange(file, at, at + length - 4));
        vmlinux = work.resolve("vmlinux");
        run(work, "unlz4", "-f", "-q", compressed.toString(), vmlinux.toString());
        Files.delete(compressed);
        kernel = ElfKernel.load(vmlinux);
    }

    @AfterAll
    static void cleanUp() throws IOException {
        if (vmlinux != null) {
            Files.deleteIfExists(vmlinux); // ~50 MiB; the cache keeps the bzImage
        }
    }

    @Test
    void vmlinuxLoadsAtSixteenMibWithAPhysicalEntryAndAPvhNote() {
        assertEquals(ElfKernel.ET_EXEC, kernel.type());
        // CONFIG_PHYSICAL_START = 16 MiB; ENTRY(phys_startup_64) makes e_entry physical.
        assertEquals(GuestAddress.of(0x100_0000), kernel.start());
        assertEquals(GuestAddress.of(0x100_0000), kernel.entry64());
        // CONFIG_PVH=y: the PHYS32_ENTRY note (an 8-byte descriptor on x86-64) points into .head.text.
        GuestAddress pvh = kernel.pvhEntry().orElseThrow();
        assertTrue(pvh.value() > 0x100_0000 && pvh.value() < 0x110_0000, pvh.toString());
        // .text, .data, the per-CPU area (linked at virtual 0, loaded in between) and .init/.bss.
        assertTrue(kernel.segments().size() >= 3, kernel.toString());
        assertEquals(KernelFormat.ELF_PVH, KernelFile.load(vmlinux).format());
    }

    @Test
    void bothProtocolsPlanInAGuestThatHoldsIt() {
        MemoryLayout ram = MemoryLayout.forRam(256 * Layout.MIB);
        assertEquals(kernel.entry64().value(), ElfBoot.plan(ram, kernel, "console=ttyS0").entry().rip());
        assertEquals(kernel.pvhEntry().orElseThrow().value(),
                PvhBoot.plan(ram, kernel, Optional.empty(), "console=ttyS0").entry().rip());
    }
}
