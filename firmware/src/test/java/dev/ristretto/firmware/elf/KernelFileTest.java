package dev.ristretto.firmware.elf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.firmware.BzImage;
import dev.ristretto.firmware.KernelImageException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelFileTest {
    private static final Optional<BootProtocol> AUTO = Optional.empty();
    private static final Optional<BootProtocol> LINUX = Optional.of(BootProtocol.LINUX);
    private static final Optional<BootProtocol> PVH = Optional.of(BootProtocol.PVH);

    /** A minimal valid bzImage header (boot.rst): protocol 2.15, 64-bit entry, 4 KiB payload. */
    private static byte[] bzImage() {
        ByteBuffer b = ByteBuffer.allocate(5 * 512 + 0x1000).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) 4);
        b.putInt(0x1f4, 0x1000 / 16);
        b.putShort(0x1fe, (short) 0xaa55);
        b.put(0x201, (byte) 0x6a);
        b.putInt(0x202, 0x53726448);
        b.putShort(0x206, (short) 0x020f);
        b.put(0x211, (byte) BzImage.LOADED_HIGH);
        b.putInt(0x230, 0x20_0000);
        b.put(0x234, (byte) 1);
        b.putShort(0x236, (short) BzImage.XLF_KERNEL_64);
        b.putInt(0x238, 2047);
        b.putLong(0x258, 0x100_0000);
        b.putInt(0x260, 0x40_0000);
        return b.array();
    }

    @Test
    void detectsTheThreeFormats() {
        assertEquals(KernelFormat.BZIMAGE, KernelFile.parse("bz", bzImage()).format());
        assertEquals(KernelFormat.ELF_PVH, KernelFile.parse("pvh", TestElf.valid().array()).format());
        assertEquals(KernelFormat.ELF, KernelFile.parse("elf", TestElf.withoutPvhNote().array()).format());
    }

    @Test
    void defaultProtocols() {
        assertEquals(BootProtocol.LINUX, KernelFile.parse("bz", bzImage()).protocol(AUTO));
        assertEquals(BootProtocol.PVH, KernelFile.parse("pvh", TestElf.valid().array()).protocol(AUTO));
        assertEquals(BootProtocol.LINUX, KernelFile.parse("elf", TestElf.withoutPvhNote().array()).protocol(AUTO));
    }

    @Test
    void forcedProtocolsAreCheckedAgainstTheFile() {
        assertEquals(BootProtocol.LINUX, KernelFile.parse("bz", bzImage()).protocol(LINUX));
        assertEquals(BootProtocol.LINUX, KernelFile.parse("pvh", TestElf.valid().array()).protocol(LINUX));
        assertEquals(BootProtocol.PVH, KernelFile.parse("pvh", TestElf.valid().array()).protocol(PVH));

        String m = assertThrows(KernelImageException.class, () -> KernelFile.parse("/k/bzImage", bzImage()).protocol(PVH))
                .getMessage();
        assertEquals("kernel /k/bzImage: is a bzImage, which has no PVH entry (the PVH note is only in the uncompressed ELF"
                + " vmlinux); boot it with the linux protocol or pass the vmlinux", m);
        m = assertThrows(KernelImageException.class,
                () -> KernelFile.parse("/k/vmlinux", TestElf.withoutPvhNote().array()).protocol(PVH)).getMessage();
        assertEquals("kernel /k/vmlinux: has no XEN_ELFNOTE_PHYS32_ENTRY note, so it cannot be booted with PVH; boot it"
                + " with the linux protocol, or build Linux with CONFIG_PVH=y", m);
        // An ELF whose entry is not a physical address in its image cannot take the 64-bit entry.
        byte[] virtualEntry = TestElf.valid().putLong(0x18, 0xffff_ffff_8120_0000L).array();
        assertEquals(BootProtocol.PVH, KernelFile.parse("v", virtualEntry).protocol(AUTO));
        assertThrows(KernelImageException.class, () -> KernelFile.parse("v", virtualEntry).protocol(LINUX));
    }

    @Test
    void neitherFormat() {
        String m = assertThrows(KernelImageException.class, () -> KernelFile.parse("/k/x", new byte[4096])).getMessage();
        assertEquals("kernel /k/x: not a bzImage (no HdrS magic at 0x202) and not an ELF file (no \\x7fELF magic); pass a"
                + " Linux bzImage, a vmlinux or another x86-64 ELF kernel", m);
        assertThrows(KernelImageException.class, () -> KernelFile.parse("/k/x", new byte[3]));
        // The magic alone does not make a valid file: the format's own checks still run.
        byte[] damaged = bzImage();
        damaged[0x1fe] = 0;
        assertTrue(assertThrows(KernelImageException.class, () -> KernelFile.parse("/k/bz", damaged)).getMessage()
                .contains("boot flag"));
    }

    @Test
    void loadsFromAFile(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("vmlinux");
        Files.write(f, TestElf.valid().array());
        KernelFile k = KernelFile.load(f);
        assertEquals(f.toString(), k.name());
        assertTrue(k instanceof KernelFile.ElfFile e && e.kernel().supportsPvh());
        String m = assertThrows(KernelImageException.class, () -> KernelFile.load(dir.resolve("none"))).getMessage();
        assertTrue(m.startsWith("kernel " + dir.resolve("none") + ": cannot be read ("), m);
    }

    @Test
    void protocolNames() {
        assertEquals(BootProtocol.PVH, BootProtocol.fromCliName("PVH"));
        assertEquals(BootProtocol.LINUX, BootProtocol.fromCliName("linux"));
        assertEquals("pvh", BootProtocol.PVH.cliName());
        String m = assertThrows(IllegalArgumentException.class, () -> BootProtocol.fromCliName("multiboot")).getMessage();
        assertEquals("boot protocol 'multiboot' is unknown; use linux or pvh", m);
    }
}
