package dev.ristretto.firmware;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BzImageTest {

    private static String error(Consumer<ByteBuffer> damage) {
        ByteBuffer b = TestKernels.valid();
        damage.accept(b);
        return assertThrows(KernelImageException.class, () -> TestKernels.parse(b)).getMessage();
    }

    @Test
    void parsesAValidHeader() {
        BzImage k = TestKernels.image();
        assertEquals(0x020f, k.protocol());
        assertEquals("2.15", k.protocolVersion());
        assertEquals(4, k.setupSects());
        assertTrue(k.relocatable());
        assertTrue(k.canLoadAbove4G());
        assertEquals(TestKernels.KERNEL_ALIGNMENT, k.kernelAlignment());
        assertEquals(21, k.minAlignmentLog2());
        assertEquals(TestKernels.PREF_ADDRESS, k.prefAddress());
        assertEquals(TestKernels.INIT_SIZE, k.initSize());
        assertEquals(TestKernels.CMDLINE_SIZE, k.cmdlineSize());
        assertEquals(TestKernels.INITRD_ADDR_MAX, k.initrdAddrMax());
        assertEquals(TestKernels.PAYLOAD_OFFSET, k.payloadOffset());
        assertEquals(TestKernels.PAYLOAD_LENGTH, k.payloadLength());
        assertEquals(0x26c, k.setupHeaderEnd());
        byte[] header = k.setupHeader();
        assertEquals(0x26c - 0x1f1, header.length);
        assertEquals(0x48, header[0x202 - 0x1f1]); // 'H' of HdrS
    }

    @Test
    void setupSectsZeroMeansFour() {
        ByteBuffer b = TestKernels.valid();
        b.put(0x1f1, (byte) 0);
        assertEquals(4, TestKernels.parse(b).setupSects());
        assertEquals(5 * 512, TestKernels.parse(b).payloadOffset());
    }

    @Test
    void copiesExactlyThePayload() {
        BzImage k = TestKernels.image();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment target = arena.allocate(k.payloadLength());
            k.copyPayloadTo(target);
            for (int i = 0; i < k.payloadLength(); i++) {
                assertEquals((byte) (i * 7), target.get(ValueLayout.JAVA_BYTE, i), "payload byte " + i);
            }
        }
    }

    @Test
    void rejectsWrongMagic() {
        String m = error(b -> b.put(0x202, (byte) 'X'));
        assertEquals("kernel test.bzImage: not a bzImage (no HdrS magic at 0x202)", m);
    }

    @Test
    void rejectsBadBootFlag() {
        String m = error(b -> b.putShort(0x1fe, (short) 0x1234));
        assertTrue(m.startsWith("kernel test.bzImage: not a valid bzImage (boot flag at 0x1FE is 0x1234, expected 0xAA55)"), m);
    }

    @Test
    void rejectsTruncatedImage() {
        ByteBuffer b = TestKernels.valid();
        byte[] cut = Arrays.copyOf(b.array(), b.capacity() - 1);
        String m = assertThrows(KernelImageException.class, () -> BzImage.parse("cut", cut)).getMessage();
        assertEquals("kernel cut: is truncated: the header announces " + b.capacity()
                + " bytes of setup and payload but the file has only " + (b.capacity() - 1), m);
    }

    @Test
    void rejectsFileTooShortForAHeader() {
        String m = assertThrows(KernelImageException.class, () -> BzImage.parse("tiny", new byte[100])).getMessage();
        assertEquals("kernel tiny: not a bzImage (the file is only 100 bytes, too short for a setup header)", m);
    }

    @Test
    void rejectsOldProtocol() {
        String m = error(b -> b.putShort(0x206, (short) 0x0204));
        assertTrue(m.startsWith("kernel test.bzImage: boot protocol 2.04 is too old (Ristretto needs 2.12 or newer"), m);
        // 2.11 is the last version without xloadflags, 2.12 the first we take.
        error(b -> b.putShort(0x206, (short) 0x020b));
        ByteBuffer ok = TestKernels.valid();
        ok.putShort(0x206, (short) 0x020c);
        assertEquals("2.12", TestKernels.parse(ok).protocolVersion());
    }

    @Test
    void rejectsAbsurdSetupSects() {
        String m = error(b -> b.put(0x1f1, (byte) 200));
        assertTrue(m.startsWith("kernel test.bzImage: setup_sects is 200, which is absurd"), m);
        // 64 is the most Linux's build tool emits and is accepted (the file is then too short).
        String m64 = error(b -> b.put(0x1f1, (byte) 64));
        assertTrue(m64.contains("is truncated"), m64);
    }

    @Test
    void rejectsKernelWithout64BitEntry() {
        String m = error(b -> b.putShort(0x236, (short) 0));
        assertTrue(m.contains("has no 64-bit entry point (XLF_KERNEL_64 clear in xloadflags)"), m);
    }

    @Test
    void rejectsZImage() {
        String m = error(b -> b.put(0x211, (byte) 0));
        assertTrue(m.contains("is a zImage (LOADED_HIGH clear in loadflags)"), m);
    }

    @Test
    void rejectsHeaderLengthOutsideTheZeroPageArea() {
        assertTrue(error(b -> b.put(0x201, (byte) 0x10)).contains("setup header claims to end at 0x212"));
        assertTrue(error(b -> b.put(0x201, (byte) 0xff)).contains("setup header claims to end at 0x301"));
    }

    @Test
    void rejectsInconsistentSizesAndAlignment() {
        assertTrue(error(b -> b.putInt(0x1f4, 0)).contains("empty protected-mode payload"));
        assertTrue(error(b -> b.putInt(0x260, 0x10)).contains("init_size 0x10 is smaller than the payload"));
        assertTrue(error(b -> b.putInt(0x230, 0x30_0000)).contains("kernel_alignment 0x300000 is not a power of two"));
    }

    @Test
    void recognisesAnElfVmlinux() {
        byte[] elf = new byte[4096];
        elf[0] = 0x7f;
        elf[1] = 'E';
        elf[2] = 'L';
        elf[3] = 'F';
        String m = assertThrows(KernelImageException.class, () -> BzImage.parse("/x/vmlinux", elf)).getMessage();
        assertTrue(m.startsWith("kernel /x/vmlinux: is an ELF vmlinux, not a bzImage;"), m);
        assertTrue(m.contains("arch/x86/boot/bzImage"), m);
    }

    @Test
    void loadsFromAFileAndReportsMissingFiles(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("bzImage");
        Files.write(file, TestKernels.valid().array());
        BzImage k = BzImage.load(file);
        assertEquals(file.toString(), k.name());
        assertArrayEquals(TestKernels.image().setupHeader(), k.setupHeader());

        Path missing = dir.resolve("nope");
        String m = assertThrows(KernelImageException.class, () -> BzImage.load(missing)).getMessage();
        assertTrue(m.startsWith("kernel " + missing + ": cannot be read"), m);
    }

    @Test
    void nonRelocatableKernelNeedsNoAlignmentCheck() {
        ByteBuffer b = TestKernels.valid();
        b.put(0x234, (byte) 0);
        b.putInt(0x230, 0x30_0000);
        assertFalse(TestKernels.parse(b).relocatable());
    }
}
