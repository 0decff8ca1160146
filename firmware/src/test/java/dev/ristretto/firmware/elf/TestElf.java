package dev.ristretto.firmware.elf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Hand-made ELF kernels for tests: a well-formed ELF64 x86-64 executable that each test then
 * changes in one specific way through the offsets below.
 *
 * <pre>
 *   0x0000 ELF header          e_entry = TEXT_PADDR + ENTRY_OFFSET
 *   0x0040 phdr 0: PT_LOAD     text, file 0x1000+0x1000 -> 2 MiB, memsz 0x1000
 *   0x0078 phdr 1: PT_LOAD     data, file 0x2000+0x800  -> 2 MiB + 0x1000, memsz 0x3000 (bss)
 *   0x00b0 phdr 2: PT_NOTE     file 0x2800+0x30: a GNU note, then the Xen PHYS32_ENTRY note
 * </pre>
 */
final class TestElf {
    private TestElf() {
    }

    static final int PHDR0 = 0x40;
    static final int PHDR1 = PHDR0 + 56;
    static final int PHDR2 = PHDR1 + 56;

    static final long TEXT_OFFSET = 0x1000;
    static final long TEXT_PADDR = 0x20_0000;
    static final long TEXT_SIZE = 0x1000;
    static final long DATA_OFFSET = 0x2000;
    static final long DATA_PADDR = 0x20_1000;
    static final long DATA_FILESZ = 0x800;
    static final long DATA_MEMSZ = 0x3000;
    static final long ENTRY_OFFSET = 0x10;
    static final long PVH_ENTRY = TEXT_PADDR + 0x40;

    static final int NOTE_OFFSET = 0x2800;
    /** The GNU note (namesz 4 "GNU", descsz 4, type 1) takes 20 bytes; the Xen note follows. */
    static final int XEN_NOTE = NOTE_OFFSET + 20;
    static final int XEN_NOTE_DESC = XEN_NOTE + 16;
    static final int NOTE_SIZE = 40;
    static final int FILE_SIZE = 0x3000;

    /** A valid image: text bytes are (i * 7) & 0xff, data bytes (i * 13 + 1) & 0xff. */
    static ByteBuffer valid() {
        ByteBuffer b = ByteBuffer.allocate(FILE_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0});
        b.putShort(0x10, (short) ElfKernel.ET_EXEC);
        b.putShort(0x12, (short) ElfKernel.EM_X86_64);
        b.putInt(0x14, 1);
        b.putLong(0x18, TEXT_PADDR + ENTRY_OFFSET);
        b.putLong(0x20, PHDR0);
        b.putShort(0x34, (short) 64);
        b.putShort(0x36, (short) 56);
        b.putShort(0x38, (short) 3);
        phdr(b, PHDR0, ElfKernel.PT_LOAD, 5, TEXT_OFFSET, 0xffff_ffff_8020_0000L, TEXT_PADDR, TEXT_SIZE, TEXT_SIZE, 0x1000);
        phdr(b, PHDR1, ElfKernel.PT_LOAD, 6, DATA_OFFSET, 0xffff_ffff_8020_1000L, DATA_PADDR, DATA_FILESZ, DATA_MEMSZ,
                0x1000);
        phdr(b, PHDR2, ElfKernel.PT_NOTE, 4, NOTE_OFFSET, 0, 0, NOTE_SIZE, NOTE_SIZE, 4);
        for (int i = 0; i < TEXT_SIZE; i++) {
            b.put((int) TEXT_OFFSET + i, (byte) (i * 7));
        }
        for (int i = 0; i < DATA_FILESZ; i++) {
            b.put((int) DATA_OFFSET + i, (byte) (i * 13 + 1));
        }
        // A note of another owner first, so the parser has to step over it.
        b.putInt(NOTE_OFFSET, 4).putInt(NOTE_OFFSET + 4, 4).putInt(NOTE_OFFSET + 8, 1);
        b.put(NOTE_OFFSET + 12, new byte[] {'G', 'N', 'U', 0});
        b.putInt(NOTE_OFFSET + 16, 0x1234_5678);
        xenNote(b, XEN_NOTE, ElfKernel.XEN_ELFNOTE_PHYS32_ENTRY, 4);
        b.putInt(XEN_NOTE_DESC, (int) PVH_ENTRY);
        return b;
    }

    static void phdr(ByteBuffer b, int at, int type, int flags, long offset, long vaddr, long paddr, long filesz,
                     long memsz, long align) {
        b.putInt(at, type);
        b.putInt(at + 4, flags);
        b.putLong(at + 8, offset);
        b.putLong(at + 0x10, vaddr);
        b.putLong(at + 0x18, paddr);
        b.putLong(at + 0x20, filesz);
        b.putLong(at + 0x28, memsz);
        b.putLong(at + 0x30, align);
    }

    static void xenNote(ByteBuffer b, int at, int type, int descsz) {
        b.putInt(at, 4).putInt(at + 4, descsz).putInt(at + 8, type);
        b.put(at + 12, new byte[] {'X', 'e', 'n', 0});
    }

    /** The image without any PVH note (the Xen note's type changed to XEN_ELFNOTE_ENTRY, 1). */
    static ByteBuffer withoutPvhNote() {
        ByteBuffer b = valid();
        b.putInt(XEN_NOTE + 8, 1);
        return b;
    }

    static ElfKernel parse(ByteBuffer b) {
        return ElfKernel.parse("test.elf", b.array());
    }

    static ElfKernel kernel() {
        return parse(valid());
    }
}
