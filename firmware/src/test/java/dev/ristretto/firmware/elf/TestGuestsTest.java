package dev.ristretto.firmware.elf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ristretto.firmware.Initrd;
import dev.ristretto.firmware.Layout;
import dev.ristretto.firmware.MemoryLayout;
import dev.ristretto.firmware.pvh.PvhBoot;
import dev.ristretto.firmware.pvh.PvhBootPlan;
import dev.ristretto.vmm.memory.GuestAddress;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Builds the freestanding test guests with guest-images/test-guests/build.sh and loads them with
 * our own parser and planners. Skips, with the reason, when gcc or binutils are missing.
 */
class TestGuestsTest {
    private static Path pvhProbe;
    private static Path elf64Probe;
    private static Path virtioProbe;

    private static Path repoRoot() {
        Path root = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        while (root != null && !Files.isRegularFile(root.resolve("guest-images/test-guests/build.sh"))) {
            root = root.getParent();
        }
        assumeTrue(root != null, "guest-images/test-guests/build.sh not found above " + System.getProperty("user.dir"));
        return root;
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    @BeforeAll
    static void build() throws IOException, InterruptedException {
        Path root = repoRoot();
        assumeTrue(onPath("gcc"), "gcc is not installed; the test guests are built from C source");
        assumeTrue(onPath("objcopy"), "objcopy (binutils) is not installed; the test guests need it");
        Path out = Path.of("target", "test-guests").toAbsolutePath();
        Path log = Files.createTempFile("build-test-guests", ".log");
        try {
            Process p = new ProcessBuilder("bash", root.resolve("guest-images/test-guests/build.sh").toString(), out.toString())
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            assertTrue(p.waitFor(5, TimeUnit.MINUTES), "build.sh did not finish within 5 minutes");
            String output = Files.readString(log);
            // A missing tool is a skip (exit 3); any other failure is a broken build and fails.
            assumeTrue(p.exitValue() != 3, "build.sh: " + output.trim());
            assertEquals(0, p.exitValue(), "build.sh failed:\n" + output);
            List<String> paths = output.lines().filter(l -> l.startsWith("/")).toList();
            assertEquals(List.of(out.resolve("pvh-probe").toString(), out.resolve("elf64-probe").toString(),
                    out.resolve("virtio-probe").toString()), paths, "build.sh prints the path of each guest");
        } finally {
            Files.deleteIfExists(log);
        }
        pvhProbe = out.resolve("pvh-probe");
        elf64Probe = out.resolve("elf64-probe");
        virtioProbe = out.resolve("virtio-probe");
    }

    @Test
    void pvhProbeHasThePvhNoteAndFitsASmallGuest() {
        ElfKernel k = ElfKernel.load(pvhProbe);
        assertTrue(k.supportsPvh());
        GuestAddress entry = k.pvhEntry().orElseThrow();
        // Linked at 1 MiB, entered at _start, the first byte of the image.
        assertEquals(Layout.HIGH_MEMORY_START, k.start());
        assertEquals(Layout.HIGH_MEMORY_START, entry);
        assertTrue(entry.compareTo(k.end()) < 0);
        assertEquals(KernelFormat.ELF_PVH, KernelFile.load(pvhProbe).format());
        assertEquals(BootProtocol.PVH, KernelFile.load(pvhProbe).protocol(Optional.empty()));
        PvhBootPlan plan = PvhBoot.plan(MemoryLayout.forRam(32 * Layout.MIB), k,
                Optional.of(Initrd.of("rd", new byte[100])), "console=ttyS0");
        assertEquals(entry.value(), plan.entry().rip());
    }

    @Test
    void elf64ProbeHasNoNoteAndAnEntryInItsImage() {
        ElfKernel k = ElfKernel.load(elf64Probe);
        assertFalse(k.supportsPvh());
        assertEquals(KernelFormat.ELF, KernelFile.load(elf64Probe).format());
        assertEquals(Layout.HIGH_MEMORY_START, k.start());
        ElfBootPlan plan = ElfBoot.plan(MemoryLayout.forRam(32 * Layout.MIB), k, "console=ttyS0");
        assertEquals(Layout.HIGH_MEMORY_START.value(), plan.entry().rip());
    }

    /**
     * virtio-probe has two entries (README.md): e_entry, 64-bit code at the start of the image,
     * for the Linux protocol, and the PVH note's 32-bit stub, a different address in the same
     * image. Both protocols must plan, and PVH is the default because the note is there.
     */
    @Test
    void virtioProbeHasBothALinuxAndAPvhEntry() {
        ElfKernel k = ElfKernel.load(virtioProbe);
        assertTrue(k.supportsPvh());
        assertEquals(Layout.HIGH_MEMORY_START, k.start());
        assertEquals(Layout.HIGH_MEMORY_START, k.entry64());
        GuestAddress pvh = k.pvhEntry().orElseThrow();
        assertTrue(pvh.compareTo(k.start()) > 0 && pvh.compareTo(k.end()) < 0,
                "the PVH entry " + pvh + " lies inside the image, after the 64-bit entry");

        KernelFile file = KernelFile.load(virtioProbe);
        assertEquals(KernelFormat.ELF_PVH, file.format());
        assertEquals(BootProtocol.PVH, file.protocol(Optional.empty()));
        assertEquals(BootProtocol.LINUX, file.protocol(Optional.of(BootProtocol.LINUX)));

        MemoryLayout memory = MemoryLayout.forRam(64 * Layout.MIB);
        k.checkPlacement(memory);
        assertEquals(Layout.HIGH_MEMORY_START.value(), ElfBoot.plan(memory, k, "vprobe.blk_read=1").entry().rip());
        assertEquals(pvh.value(), PvhBoot.plan(memory, k, Optional.empty(), "vprobe.blk_read=1").entry().rip());
    }

    /**
     * Cross-checks the pvh-probe and its documented output against another PVH loader: QEMU's
     * -kernel loads an ELF with the PVH note through the same ABI (TCG, no KVM needed). Skips
     * when QEMU is not installed.
     */
    @Test
    void pvhProbeReportsWhatQemuHandsOver() throws IOException, InterruptedException {
        assumeTrue(onPath("qemu-system-x86_64"), "qemu-system-x86_64 is not installed; it is only the reference loader here");
        Path dir = Path.of("target", "test-guests").toAbsolutePath();
        byte[] module = new byte[4099]; // not a multiple of 4: exercises sum32's padded last word
        for (int i = 0; i < module.length; i++) {
            module[i] = (byte) (i * 31 + 7);
        }
        Path rd = dir.resolve("qemu-module.bin");
        Files.write(rd, module);
        Path log = dir.resolve("qemu-pvh-probe.log");
        Process p = new ProcessBuilder("qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-m", "128", "-display", "none",
                "-serial", "file:" + log, "-monitor", "none", "-no-reboot", "-kernel", pvhProbe.toString(),
                "-initrd", rd.toString(), "-append", "console=ttyS0 x=\"y\"")
                .redirectErrorStream(true).redirectOutput(dir.resolve("qemu-pvh-probe.stderr").toFile()).start();
        if (!p.waitFor(2, TimeUnit.MINUTES)) {
            p.destroyForcibly();
        }
        String out = Files.readString(log, StandardCharsets.ISO_8859_1);
        assertTrue(out.contains("\nPVH-PROBE-DONE\n"), "the probe ran to its end (log in " + log + "):\n" + out);
        assertTrue(out.contains("\nmagic=0x336ec578 version=1 flags=0x00000000\n"), out);
        assertTrue(out.contains(" cmdline=\"console=ttyS0 x=\\x22y\\x22\"\n"), out);
        Matcher m = Pattern.compile("module\\[0\\] paddr=0x[0-9a-f]{16} size=(0x[0-9a-f]{16}) cmdline_paddr=0x[0-9a-f]{16}"
                + " sum32=(0x[0-9a-f]{8}) head=([0-9a-f ]+)\n").matcher(out);
        assertTrue(m.find(), out);
        assertEquals(module.length, Long.decode(m.group(1)));
        assertEquals(sum32(module), Long.decode(m.group(2)).intValue());
        assertEquals("07 26 45 64 83 a2 c1 e0 ff 1e 3d 5c 7b 9a b9 d8", m.group(3));
        assertTrue(Pattern.compile("\nrsdp_paddr=0x[0-9a-f]{16} head=52 53 44 20 50 54 52 20\n").matcher(out).find(), out);
        assertTrue(Pattern.compile("\nmemmap\\[0\\] addr=0x0000000000000000 size=0x[0-9a-f]{16} type=1\n").matcher(out).find(),
                out);
    }

    /** The probes' checksum (README.md): little-endian u32 words summed mod 2^32, zero-padded. */
    static int sum32(byte[] data) {
        ByteBuffer b = ByteBuffer.wrap(java.util.Arrays.copyOf(data, (data.length + 3) & ~3)).order(ByteOrder.LITTLE_ENDIAN);
        int sum = 0;
        while (b.hasRemaining()) {
            sum += b.getInt();
        }
        return sum;
    }
}
