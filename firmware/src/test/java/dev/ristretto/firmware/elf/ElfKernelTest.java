package dev.ristretto.firmware.elf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.firmware.KernelImageException;
import dev.ristretto.firmware.Layout;
import dev.ristretto.firmware.MemoryLayout;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.memory.GuestRegion;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ElfKernelTest {
    private static final MemoryLayout RAM_64M = MemoryLayout.forRam(64 * Layout.MIB);

    private static String error(Consumer<ByteBuffer> damage) {
        ByteBuffer b = TestElf.valid();
        damage.accept(b);
        return assertThrows(KernelImageException.class, () -> TestElf.parse(b)).getMessage();
    }

    @Test
    void parsesProgramHeadersAndThePvhNote() {
        ElfKernel k = TestElf.kernel();
        assertEquals(ElfKernel.ET_EXEC, k.type());
        assertEquals(TestElf.TEXT_PADDR + TestElf.ENTRY_OFFSET, k.entry());
        assertEquals(GuestAddress.of(TestElf.TEXT_PADDR + TestElf.ENTRY_OFFSET), k.entry64());
        assertEquals(List.of(
                new LoadSegment(TestElf.TEXT_OFFSET, GuestAddress.of(TestElf.TEXT_PADDR), TestElf.TEXT_SIZE, TestElf.TEXT_SIZE, 5),
                new LoadSegment(TestElf.DATA_OFFSET, GuestAddress.of(TestElf.DATA_PADDR), TestElf.DATA_FILESZ,
                        TestElf.DATA_MEMSZ, 6)), k.segments());
        assertEquals(Optional.of(GuestAddress.of(TestElf.PVH_ENTRY)), k.pvhEntry());
        assertTrue(k.supportsPvh());
        assertEquals(GuestAddress.of(TestElf.TEXT_PADDR), k.start());
        assertEquals(GuestAddress.of(TestElf.DATA_PADDR + TestElf.DATA_MEMSZ), k.end());
    }

    @Test
    void segmentsAreSortedByPhysicalAddress() {
        ByteBuffer b = TestElf.valid();
        // Swap the two PT_LOAD headers in the table.
        byte[] first = new byte[56];
        byte[] second = new byte[56];
        b.get(TestElf.PHDR0, first).get(TestElf.PHDR1, second);
        b.put(TestElf.PHDR0, second).put(TestElf.PHDR1, first);
        assertEquals(GuestAddress.of(TestElf.TEXT_PADDR), TestElf.parse(b).segments().getFirst().physicalAddress());
    }

    @Test
    void withoutTheNoteThereIsNoPvhEntry() {
        ElfKernel k = TestElf.parse(TestElf.withoutPvhNote());
        assertEquals(Optional.empty(), k.pvhEntry());
        assertFalse(k.supportsPvh());
    }

    @Test
    void linuxStyleEightByteDescriptorIsAccepted() {
        // arch/x86/platform/pvh/head.S emits the entry with _ASM_PTR: a .quad on x86-64.
        ByteBuffer b = TestElf.valid();
        TestElf.xenNote(b, TestElf.XEN_NOTE, ElfKernel.XEN_ELFNOTE_PHYS32_ENTRY, 8);
        b.putLong(TestElf.XEN_NOTE_DESC, TestElf.PVH_ENTRY);
        b.putLong(TestElf.PHDR2 + 0x20, 44);
        assertEquals(Optional.of(GuestAddress.of(TestElf.PVH_ENTRY)), TestElf.parse(b).pvhEntry());
    }

    @Test
    void notesInAnEightByteAlignedSegmentArePaddedToEight() {
        // With p_align 8 the GNU note's descriptor starts at 16 (12 + 4, already aligned) and ends
        // at 20, padded to 24, so the Xen note starts 4 bytes later than with 4-byte alignment.
        ByteBuffer b = TestElf.valid();
        b.putLong(TestElf.PHDR2 + 0x30, 8);
        byte[] xen = new byte[20];
        b.get(TestElf.XEN_NOTE, xen);
        b.put(TestElf.XEN_NOTE, new byte[4]);
        b.put(TestElf.XEN_NOTE + 4, xen);
        b.putLong(TestElf.PHDR2 + 0x20, 44);
        assertEquals(Optional.of(GuestAddress.of(TestElf.PVH_ENTRY)), TestElf.parse(b).pvhEntry());
        // The same bytes read with 4-byte padding find no note of type 18 from "Xen".
        b.putLong(TestElf.PHDR2 + 0x30, 4);
        assertFalse(TestElf.parse(b).supportsPvh());
    }

    @Test
    void noteOfAnotherOwnerWithTheSameTypeIsIgnored() {
        ByteBuffer b = TestElf.valid();
        b.put(TestElf.XEN_NOTE + 12, new byte[] {'X', 'e', 'N', 0});
        assertFalse(TestElf.parse(b).supportsPvh());
    }

    @Test
    void badHeaders() {
        assertEquals("kernel test.elf: is a 32-bit (ELFCLASS32) ELF file; Ristretto loads only 64-bit x86-64 ELF kernels"
                + " (a 64-bit vmlinux)", error(b -> b.put(4, (byte) 1)));
        assertEquals("kernel test.elf: is not a little-endian ELF file (EI_DATA 2); x86-64 kernels are little-endian",
                error(b -> b.put(5, (byte) 2)));
        assertEquals("kernel test.elf: has ELF version 1/2, not 1 (EV_CURRENT); the file is damaged",
                error(b -> b.putInt(0x14, 2)));
        assertEquals("kernel test.elf: has ELF type 1, not an executable (ET_EXEC 2 or ET_DYN 3); pass a linked vmlinux,"
                + " not an object file or core dump", error(b -> b.putShort(0x10, (short) 1)));
        assertEquals("kernel test.elf: is built for ELF machine 3, not x86-64 (EM_X86_64 62); use an x86-64 kernel",
                error(b -> b.putShort(0x12, (short) 3)));
        assertEquals("kernel test.elf: has no program headers (e_phnum 0), so there is nothing to load",
                error(b -> b.putShort(0x38, (short) 0)));
        assertEquals("kernel test.elf: has program headers of 32 bytes, not the 56 of ELF64 (e_phentsize); the file is"
                + " damaged", error(b -> b.putShort(0x36, (short) 32)));
        assertTrue(error(b -> b.putShort(0x38, (short) 0xffff)).contains("PN_XNUM"));
        assertEquals(ElfKernel.ET_DYN, parse(b -> b.putShort(0x10, (short) ElfKernel.ET_DYN)).type());
    }

    @Test
    void programHeaderTableOutsideTheFile() {
        assertEquals("kernel test.elf: program header table (e_phoff 0x2fe0, 3 entries) lies outside the 12288-byte file;"
                + " the file is damaged or truncated", error(b -> b.putLong(0x20, 0x2fe0)));
        // A huge e_phoff must not wrap around when the table size is added.
        assertTrue(error(b -> b.putLong(0x20, -8)).contains("program header table"));
    }

    @Test
    void tooShortOrNotElf() {
        String m = assertThrows(KernelImageException.class,
                () -> ElfKernel.parse("t", new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1})).getMessage();
        assertEquals("kernel t: ELF header truncated: the file is only 7 bytes, the ELF64 header needs 64", m);
        m = assertThrows(KernelImageException.class, () -> ElfKernel.parse("t", new byte[100])).getMessage();
        assertEquals("kernel t: not an ELF file (no \\x7fELF magic at offset 0)", m);
    }

    @Test
    void segmentFileBytesOutsideTheFile() {
        assertEquals("kernel test.elf: PT_LOAD program header 1 (offset 0x2000, p_filesz 0x1001) reaches past the end of the"
                + " 12288-byte file; the file is damaged or truncated", error(b -> b.putLong(TestElf.PHDR1 + 0x20, 0x1001)));
        assertTrue(error(b -> b.putLong(TestElf.PHDR1 + 0x08, Long.MAX_VALUE)).contains("reaches past the end"));
        assertTrue(error(b -> b.putLong(TestElf.PHDR1 + 0x08, -1)).contains("reaches past the end"));
    }

    @Test
    void fileSizeLargerThanMemorySize() {
        assertEquals("kernel test.elf: PT_LOAD program header 1 has p_filesz 0x800 larger than p_memsz 0x7ff; the file is"
                + " damaged", error(b -> b.putLong(TestElf.PHDR1 + 0x28, 0x7ff)));
    }

    @Test
    void overlappingSegments() {
        assertEquals("kernel test.elf: has overlapping PT_LOAD segments at physical 0x200000..0x201000 and"
                + " 0x200fff..0x203fff; the file is damaged", error(b -> b.putLong(TestElf.PHDR1 + 0x18, 0x20_0fff)));
        // Touching is fine.
        ElfKernel k = parse(b -> b.putLong(TestElf.PHDR1 + 0x18, 0x20_1000));
        assertEquals(2, k.segments().size());
    }

    @Test
    void addressArithmeticCannotOverflow() {
        assertEquals("kernel test.elf: PT_LOAD program header 1 at physical 0xfffffffffffff000 with p_memsz 0x3000 runs"
                + " past the end of the 64-bit address space; the file is damaged",
                error(b -> b.putLong(TestElf.PHDR1 + 0x18, -0x1000)));
        assertEquals("kernel test.elf: PT_LOAD program header 1 has p_memsz 0x8000000000000000, larger than any guest"
                + " Ristretto can run; the file is damaged", error(b -> b.putLong(TestElf.PHDR1 + 0x28, Long.MIN_VALUE)));
    }

    @Test
    void noLoadableSegment() {
        assertEquals("kernel test.elf: has no PT_LOAD segment with contents, so there is nothing to load", error(b -> {
            b.putInt(TestElf.PHDR0, 0);
            b.putInt(TestElf.PHDR1, 6); // PT_PHDR
        }));
        // An empty PT_LOAD contributes nothing but is no error.
        ElfKernel k = parse(b -> b.putLong(TestElf.PHDR1 + 0x20, 0).putLong(TestElf.PHDR1 + 0x28, 0));
        assertEquals(1, k.segments().size());
    }

    @Test
    void badNotes() {
        assertEquals("kernel test.elf: note at offset 0x2814 in PT_NOTE program header 2 runs past the end of its segment"
                + " (n_namesz 4, n_descsz 64); the file is damaged", error(b -> b.putInt(TestElf.XEN_NOTE + 4, 64)));
        assertTrue(error(b -> b.putInt(TestElf.XEN_NOTE, -1)).contains("runs past the end of its segment"));
        assertEquals("kernel test.elf: XEN_ELFNOTE_PHYS32_ENTRY note at offset 0x2814 has a 2-byte descriptor; a 32-bit"
                + " entry address needs 4 or 8 bytes; the file is damaged", error(b -> b.putInt(TestElf.XEN_NOTE + 4, 2)));
        assertEquals("kernel test.elf: XEN_ELFNOTE_PHYS32_ENTRY note at offset 0x2814 gives the PVH entry 0x100200000,"
                + " which is not a non-zero 32-bit physical address; the file is damaged", error(b -> {
                    TestElf.xenNote(b, TestElf.XEN_NOTE, ElfKernel.XEN_ELFNOTE_PHYS32_ENTRY, 8);
                    b.putLong(TestElf.XEN_NOTE_DESC, 0x1_0020_0000L);
                    b.putLong(TestElf.PHDR2 + 0x20, 44);
                }));
        assertEquals("kernel test.elf: XEN_ELFNOTE_PHYS32_ENTRY gives the PVH entry 0x300000, which is not in any PT_LOAD"
                + " segment's file contents; the file is damaged", error(b -> b.putInt(TestElf.XEN_NOTE_DESC, 0x30_0000)));
        assertEquals("kernel test.elf: PT_NOTE program header 2 (offset 0x2800, size 0x801) lies outside the 12288-byte"
                + " file; the file is damaged or truncated", error(b -> b.putLong(TestElf.PHDR2 + 0x20, 0x801)));
    }

    @Test
    void twoDifferentPvhEntriesAreRefused() {
        // Turn the GNU note into a second Xen PHYS32_ENTRY note with another entry.
        assertEquals("kernel test.elf: has two XEN_ELFNOTE_PHYS32_ENTRY notes with different entries (0x200010 and"
                + " 0x200040); the file is damaged", error(b -> {
                    TestElf.xenNote(b, TestElf.NOTE_OFFSET, ElfKernel.XEN_ELFNOTE_PHYS32_ENTRY, 4);
                    b.putInt(TestElf.NOTE_OFFSET + 16, (int) (TestElf.TEXT_PADDR + 0x10));
                    // Move the note into its own PT_NOTE: both notes in one segment keep the last.
                    b.putInt(TestElf.PHDR1, ElfKernel.PT_NOTE).putLong(TestElf.PHDR1 + 0x08, TestElf.NOTE_OFFSET)
                            .putLong(TestElf.PHDR1 + 0x20, 20);
                    b.putLong(TestElf.PHDR2 + 0x08, TestElf.XEN_NOTE).putLong(TestElf.PHDR2 + 0x20, 20);
                }));
    }

    @Test
    void entryOutsideTheImageIsRefusedForTheSixtyFourBitEntry() {
        ElfKernel k = parse(b -> b.putLong(0x18, 0xffff_ffff_8020_0010L));
        String m = assertThrows(KernelImageException.class, k::entry64).getMessage();
        assertEquals("kernel test.elf: its ELF entry point 0xffffffff80200010 is not a physical address inside a PT_LOAD"
                + " segment, so it cannot be entered directly in 64-bit mode; boot it with the PVH protocol instead", m);
        // The bss is not file contents: entering there would run zeroes.
        ElfKernel bss = TestElf.parse(withEntry(TestElf.withoutPvhNote(), TestElf.DATA_PADDR + TestElf.DATA_FILESZ));
        m = assertThrows(KernelImageException.class, bss::entry64).getMessage();
        assertTrue(m.endsWith("cannot be entered directly in 64-bit mode"), m);
    }

    private static ByteBuffer withEntry(ByteBuffer b, long entry) {
        return b.putLong(0x18, entry);
    }

    private static ElfKernel parse(Consumer<ByteBuffer> change) {
        return parse(TestElf.valid(), change);
    }

    private static ElfKernel parse(ByteBuffer b, Consumer<ByteBuffer> change) {
        change.accept(b);
        return TestElf.parse(b);
    }

    @Test
    void placementAgainstGuestRam() {
        TestElf.kernel().checkPlacement(MemoryLayout.forRam(32 * Layout.MIB));
        // Without the note: its entry would leave the image when the text segment moves.
        ElfKernel low = parse(TestElf.withoutPvhNote(), b -> b.putLong(TestElf.PHDR0 + 0x18, 0xf_f000));
        String m = assertThrows(KernelImageException.class, () -> low.checkPlacement(RAM_64M)).getMessage();
        assertEquals("kernel test.elf: PT_LOAD segment at physical 0xff000..0x100000 starts below 1 MiB, in the low memory"
                + " Ristretto keeps for boot structures; link the kernel at a physical address of 1 MiB or more", m);

        ElfKernel high = parse(b -> b.putLong(TestElf.PHDR1 + 0x18, 0x400_0000));
        m = assertThrows(KernelImageException.class, () -> high.checkPlacement(RAM_64M)).getMessage();
        assertEquals("kernel test.elf: PT_LOAD segment at physical 0x4000000..0x4003000 ends beyond the 64 MiB guest's RAM"
                + " (0x4000000); raise --memory to at least 65 MiB", m);
        high.checkPlacement(MemoryLayout.forRam(65 * Layout.MIB));

        ElfKernel hole = parse(b -> b.putLong(TestElf.PHDR1 + 0x18, 0xbfff_f000L));
        m = assertThrows(KernelImageException.class, () -> hole.checkPlacement(MemoryLayout.forRam(8 * Layout.GIB)))
                .getMessage();
        assertEquals("kernel test.elf: PT_LOAD segment at physical 0xbffff000..0xc0002000 reaches past 3 GiB, where low RAM"
                + " ends below the 32-bit MMIO hole, and ELF segments load at their physical addresses; link the kernel"
                + " lower", m);
    }

    @Test
    void copyLoadsFileBytesAndZeroesTheRest() {
        ElfKernel k = TestElf.kernel();
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = GuestMemory.of(List.of(new GuestRegion(GuestAddress.of(0), arena.allocate(4 * Layout.MIB, 4096))));
            // Dirty the bss first: the loader must clear it, not rely on fresh memory.
            byte[] junk = new byte[(int) TestElf.DATA_MEMSZ];
            Arrays.fill(junk, (byte) 0x5a);
            mem.write(GuestAddress.of(TestElf.DATA_PADDR), junk);
            k.copyTo(mem);
            byte[] text = mem.read(GuestAddress.of(TestElf.TEXT_PADDR), (int) TestElf.TEXT_SIZE);
            for (int i = 0; i < text.length; i++) {
                assertEquals((byte) (i * 7), text[i], "text byte " + i);
            }
            byte[] data = mem.read(GuestAddress.of(TestElf.DATA_PADDR), (int) TestElf.DATA_MEMSZ);
            for (int i = 0; i < data.length; i++) {
                assertEquals(i < TestElf.DATA_FILESZ ? (byte) (i * 13 + 1) : 0, data[i], "data byte " + i);
            }
            // Nothing outside the segments is touched.
            assertEquals((byte) 0, mem.readByte(GuestAddress.of(TestElf.TEXT_PADDR - 1)));
        }
    }

    @Test
    void loadReadsTheFileAndNamesItInErrors(@TempDir Path dir) throws IOException {
        Path good = dir.resolve("vmlinux");
        Files.write(good, TestElf.valid().array());
        assertEquals(good.toString(), ElfKernel.load(good).name());
        Path missing = dir.resolve("nope");
        String m = assertThrows(KernelImageException.class, () -> ElfKernel.load(missing)).getMessage();
        assertTrue(m.startsWith("kernel " + missing + ": cannot be read ("), m);
    }

    /** Property: no damage to a valid file makes the parser throw anything but KernelImageException. */
    @Test
    void randomDamageIsAlwaysReportedCleanly() {
        Random random = new Random(42);
        int parsed = 0;
        for (int round = 0; round < 20_000; round++) {
            ByteBuffer b = TestElf.valid();
            int changes = 1 + random.nextInt(4);
            for (int c = 0; c < changes; c++) {
                // Mostly the headers and notes, where the structure is.
                int at = random.nextBoolean() ? random.nextInt(0xe8) : TestElf.NOTE_OFFSET + random.nextInt(TestElf.NOTE_SIZE);
                b.put(at, (byte) random.nextInt(256));
            }
            try {
                ElfKernel k = TestElf.parse(b);
                parsed++;
                for (LoadSegment s : k.segments()) {
                    assertTrue(s.fileOffset() + s.fileSize() <= TestElf.FILE_SIZE);
                    assertTrue(s.fileSize() <= s.memorySize());
                }
                k.pvhEntry().ifPresent(e -> assertTrue(e.value() > 0 && e.value() <= 0xffff_ffffL));
            } catch (KernelImageException expected) {
                assertTrue(expected.getMessage().startsWith("kernel test.elf: "), expected.getMessage());
            }
        }
        assertTrue(parsed > 0, "some damage (in padding, flags, vaddr) leaves a loadable file");
    }
}
