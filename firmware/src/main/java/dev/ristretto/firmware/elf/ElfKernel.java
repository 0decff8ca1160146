package dev.ristretto.firmware.elf;

import dev.ristretto.firmware.KernelImageException;
import dev.ristretto.firmware.Layout;
import dev.ristretto.firmware.MemoryLayout;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A validated ELF64 little-endian x86-64 kernel (an uncompressed Linux vmlinux, or any other
 * ELF a VMM can load by its program headers). Structure and field meanings: System V gABI
 * ("ELF Header", "Program Header", "Note Section") and the x86-64 psABI (EM_X86_64 = 62).
 *
 * <p>Every PT_LOAD segment is loaded at its physical address p_paddr, as Firecracker,
 * Cloud Hypervisor and QEMU do for a vmlinux: Linux links vmlinux at virtual addresses in the
 * kernel map (0xffffffff81000000...) with {@code AT()} physical load addresses, and its linker
 * script sets {@code ENTRY(phys_startup_64)} (arch/x86/kernel/vmlinux.lds.S), so e_entry is
 * already the physical address of startup_64. We therefore take e_entry as a physical address,
 * which is also what it is for any image linked with virtual = physical, and require it to lie
 * in a loaded segment. An ET_DYN image is loaded at its p_paddr as well, without relocation
 * (rust-vmm linux-loader does the same when given no offset).
 *
 * <p>The parser checks everything that does not depend on the guest (header, bounds in the file,
 * overlaps, overflow, notes); {@link #checkPlacement(MemoryLayout)} checks the physical addresses
 * against a guest's RAM. All numbers come from the file and are treated as untrusted u64/u32.
 */
public final class ElfKernel {
    // e_ident (gABI "ELF Identification").
    static final int EI_CLASS = 4;
    static final int EI_DATA = 5;
    static final int EI_VERSION = 6;
    static final int ELFCLASS64 = 2;
    static final int ELFDATA2LSB = 1;
    static final int EV_CURRENT = 1;

    // ELF64 header fields (gABI "ELF Header", Elf64_Ehdr).
    static final int E_TYPE = 0x10;
    static final int E_MACHINE = 0x12;
    static final int E_VERSION = 0x14;
    static final int E_ENTRY = 0x18;
    static final int E_PHOFF = 0x20;
    static final int E_PHENTSIZE = 0x36;
    static final int E_PHNUM = 0x38;
    /** sizeof(Elf64_Ehdr). */
    static final int EHDR_SIZE = 64;

    public static final int ET_EXEC = 2;
    public static final int ET_DYN = 3;
    /** x86-64 psABI: e_machine of AMD64 objects. */
    public static final int EM_X86_64 = 62;
    /** gABI: e_phnum of 0xffff means the real count is in section header 0 (not used by kernels). */
    static final int PN_XNUM = 0xffff;

    // Program header (Elf64_Phdr), 56 bytes.
    static final int PHDR_SIZE = 56;
    static final int P_TYPE = 0x00;
    static final int P_FLAGS = 0x04;
    static final int P_OFFSET = 0x08;
    static final int P_PADDR = 0x18;
    static final int P_FILESZ = 0x20;
    static final int P_MEMSZ = 0x28;
    static final int P_ALIGN = 0x30;
    public static final int PT_LOAD = 1;
    public static final int PT_NOTE = 4;

    /** Note header: n_namesz, n_descsz, n_type, each a 4-byte word (gABI "Note Section"). */
    static final int NOTE_HEADER_SIZE = 12;

    /**
     * XEN_ELFNOTE_PHYS32_ENTRY (Xen xen/include/public/elfnote.h): the physical address of the
     * 32-bit PVH entry point; its presence means the kernel supports the PVH boot ABI
     * (docs/misc/pvh.pandoc).
     */
    public static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;
    /** Owner of the Xen notes: "Xen" with its NUL, so n_namesz is 4. */
    static final byte[] XEN_NOTE_NAME = {'X', 'e', 'n', 0};

    private final String name;
    private final byte[] data;
    private final int type;
    private final long entry;
    private final List<LoadSegment> segments;
    private final Optional<GuestAddress> pvhEntry;

    private ElfKernel(String name, byte[] data) {
        this.name = name;
        this.data = data;
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        if (!isElf(data)) {
            throw fail("not an ELF file (no \\x7fELF magic at offset 0)");
        }
        if (data.length < EHDR_SIZE) {
            throw fail("ELF header truncated: the file is only " + data.length + " bytes, the ELF64 header needs 64");
        }
        if (data[EI_CLASS] != ELFCLASS64) {
            throw fail("is a " + (data[EI_CLASS] == 1 ? "32-bit (ELFCLASS32)" : "class " + data[EI_CLASS])
                    + " ELF file; Ristretto loads only 64-bit x86-64 ELF kernels (a 64-bit vmlinux)");
        }
        if (data[EI_DATA] != ELFDATA2LSB) {
            throw fail("is not a little-endian ELF file (EI_DATA " + data[EI_DATA] + "); x86-64 kernels are little-endian");
        }
        if (data[EI_VERSION] != EV_CURRENT || b.getInt(E_VERSION) != EV_CURRENT) {
            throw fail("has ELF version " + data[EI_VERSION] + "/" + b.getInt(E_VERSION)
                    + ", not 1 (EV_CURRENT); the file is damaged");
        }
        type = Short.toUnsignedInt(b.getShort(E_TYPE));
        if (type != ET_EXEC && type != ET_DYN) {
            throw fail("has ELF type " + type + ", not an executable (ET_EXEC 2 or ET_DYN 3); pass a linked vmlinux,"
                    + " not an object file or core dump");
        }
        int machine = Short.toUnsignedInt(b.getShort(E_MACHINE));
        if (machine != EM_X86_64) {
            throw fail("is built for ELF machine " + machine + ", not x86-64 (EM_X86_64 62); use an x86-64 kernel");
        }
        entry = b.getLong(E_ENTRY);

        int phentsize = Short.toUnsignedInt(b.getShort(E_PHENTSIZE));
        int phnum = Short.toUnsignedInt(b.getShort(E_PHNUM));
        long phoff = b.getLong(E_PHOFF);
        if (phnum == 0) {
            throw fail("has no program headers (e_phnum 0), so there is nothing to load");
        }
        if (phnum == PN_XNUM) {
            throw fail("has 65535 or more program headers (e_phnum PN_XNUM), which no kernel has; the file is damaged");
        }
        if (phentsize != PHDR_SIZE) {
            throw fail("has program headers of " + phentsize + " bytes, not the 56 of ELF64 (e_phentsize); the file is damaged");
        }
        long phBytes = (long) phnum * PHDR_SIZE;
        if (!inFile(phoff, phBytes)) {
            throw fail("program header table (e_phoff 0x" + Long.toHexString(phoff) + ", " + phnum
                    + " entries) lies outside the " + data.length + "-byte file; the file is damaged or truncated");
        }

        List<LoadSegment> loads = new ArrayList<>();
        Optional<GuestAddress> pvh = Optional.empty();
        for (int i = 0; i < phnum; i++) {
            int at = Math.toIntExact(phoff + (long) i * PHDR_SIZE);
            int pType = b.getInt(at + P_TYPE);
            long offset = b.getLong(at + P_OFFSET);
            long filesz = b.getLong(at + P_FILESZ);
            if (pType == PT_LOAD) {
                long paddr = b.getLong(at + P_PADDR);
                long memsz = b.getLong(at + P_MEMSZ);
                loads.addAll(loadSegment(i, b.getInt(at + P_FLAGS), offset, paddr, filesz, memsz));
            } else if (pType == PT_NOTE) {
                if (!inFile(offset, filesz)) {
                    throw fail("PT_NOTE program header " + i + " (offset 0x" + Long.toHexString(offset) + ", size 0x"
                            + Long.toHexString(filesz) + ") lies outside the " + data.length + "-byte file; the file is"
                            + " damaged or truncated");
                }
                Optional<GuestAddress> found = pvhNote(b, i, (int) offset, (int) filesz, b.getLong(at + P_ALIGN));
                if (found.isPresent() && pvh.isPresent() && !found.equals(pvh)) {
                    throw fail("has two XEN_ELFNOTE_PHYS32_ENTRY notes with different entries (" + pvh.get() + " and "
                            + found.get() + "); the file is damaged");
                }
                pvh = pvh.or(() -> found);
            }
        }
        if (loads.isEmpty()) {
            throw fail("has no PT_LOAD segment with contents, so there is nothing to load");
        }
        loads.sort(Comparator.comparing(LoadSegment::physicalAddress));
        for (int i = 1; i < loads.size(); i++) {
            LoadSegment prev = loads.get(i - 1);
            LoadSegment next = loads.get(i);
            if (next.physicalAddress().compareTo(prev.end()) < 0) {
                throw fail("has overlapping PT_LOAD segments at physical " + prev.physicalAddress() + ".." + prev.end()
                        + " and " + next.physicalAddress() + ".." + next.end() + "; the file is damaged");
            }
        }
        segments = List.copyOf(loads);
        if (pvh.isPresent() && !inLoadedImage(pvh.get().value())) {
            throw fail("XEN_ELFNOTE_PHYS32_ENTRY gives the PVH entry " + pvh.get() + ", which is not in any PT_LOAD"
                    + " segment's file contents; the file is damaged");
        }
        pvhEntry = pvh;
    }

    /** The segment of program header {@code index}, or nothing when it occupies no memory. */
    private List<LoadSegment> loadSegment(int index, int flags, long offset, long paddr, long filesz, long memsz) {
        String which = "PT_LOAD program header " + index;
        if (!inFile(offset, filesz)) {
            throw fail(which + " (offset 0x" + Long.toHexString(offset) + ", p_filesz 0x" + Long.toHexString(filesz)
                    + ") reaches past the end of the " + data.length + "-byte file; the file is damaged or truncated");
        }
        if (Long.compareUnsigned(filesz, memsz) > 0) {
            throw fail(which + " has p_filesz 0x" + Long.toHexString(filesz) + " larger than p_memsz 0x"
                    + Long.toHexString(memsz) + "; the file is damaged");
        }
        if (memsz == 0) {
            return List.of(); // gABI allows empty segments; they load nothing.
        }
        // Bound memsz before any sum so that paddr + memsz cannot overflow unnoticed: no segment
        // can be larger than the largest guest, and placement checks the rest per guest.
        if (Long.compareUnsigned(memsz, Layout.MAX_RAM) > 0) {
            throw fail(which + " has p_memsz 0x" + Long.toHexString(memsz) + ", larger than any guest Ristretto can run"
                    + "; the file is damaged");
        }
        if (Long.compareUnsigned(paddr, -1L - memsz) > 0) {
            throw fail(which + " at physical 0x" + Long.toHexString(paddr) + " with p_memsz 0x" + Long.toHexString(memsz)
                    + " runs past the end of the 64-bit address space; the file is damaged");
        }
        return List.of(new LoadSegment(offset, GuestAddress.of(paddr), filesz, memsz, flags));
    }

    /**
     * The PVH entry from the notes in file bytes {@code [offset, offset+size)}, if one is there.
     * Each note is a 12-byte header, the name, and the descriptor (gABI "Note Section"). The
     * descriptor starts at the first multiple of the note alignment after header and name, and
     * the next note at the first multiple after the descriptor, counted from the note's start;
     * the alignment is 4 bytes, or 8 when the segment says p_align 8 (binutils' readelf,
     * ELF_NOTE_DESC_OFFSET and ELF_NOTE_NEXT_OFFSET, reads notes by the same rule).
     */
    private Optional<GuestAddress> pvhNote(ByteBuffer b, int index, int offset, int size, long pAlign) {
        long align = pAlign == 8 ? 8 : 4;
        long pos = 0;
        Optional<GuestAddress> found = Optional.empty();
        while (size - pos >= NOTE_HEADER_SIZE) {
            int at = (int) (offset + pos);
            long namesz = Integer.toUnsignedLong(b.getInt(at));
            long descsz = Integer.toUnsignedLong(b.getInt(at + 4));
            int noteType = b.getInt(at + 8);
            long nameAt = pos + NOTE_HEADER_SIZE;
            long descAt = pos + alignUp(NOTE_HEADER_SIZE + namesz, align);
            long next = pos + alignUp(descAt - pos + descsz, align);
            // The padding after the last descriptor may be missing at the very end of a segment.
            if (descAt + descsz > size) {
                throw fail("note at offset 0x" + Long.toHexString(offset + pos) + " in PT_NOTE program header " + index
                        + " runs past the end of its segment (n_namesz " + namesz + ", n_descsz " + descsz
                        + "); the file is damaged");
            }
            if (noteType == XEN_ELFNOTE_PHYS32_ENTRY && isXenName(b, (int) (offset + nameAt), namesz)) {
                found = Optional.of(phys32Entry(b, (int) (offset + descAt), descsz, offset + pos));
            }
            pos = next;
        }
        return found;
    }

    private static boolean isXenName(ByteBuffer b, int at, long namesz) {
        if (namesz != XEN_NOTE_NAME.length) {
            return false;
        }
        for (int i = 0; i < XEN_NOTE_NAME.length; i++) {
            if (b.get(at + i) != XEN_NOTE_NAME[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * The descriptor of XEN_ELFNOTE_PHYS32_ENTRY: a 32-bit physical address. Linux emits it with
     * _ASM_PTR, so on x86-64 the descriptor is 8 bytes whose upper half must then be zero
     * (arch/x86/platform/pvh/head.S); other kernels emit 4 bytes.
     */
    private GuestAddress phys32Entry(ByteBuffer b, int at, long descsz, long noteOffset) {
        long value;
        if (descsz == 4) {
            value = Integer.toUnsignedLong(b.getInt(at));
        } else if (descsz == 8) {
            value = b.getLong(at);
        } else {
            throw fail("XEN_ELFNOTE_PHYS32_ENTRY note at offset 0x" + Long.toHexString(noteOffset) + " has a " + descsz
                    + "-byte descriptor; a 32-bit entry address needs 4 or 8 bytes; the file is damaged");
        }
        if (Long.compareUnsigned(value, 0xffff_ffffL) > 0 || value == 0) {
            throw fail("XEN_ELFNOTE_PHYS32_ENTRY note at offset 0x" + Long.toHexString(noteOffset) + " gives the PVH entry 0x"
                    + Long.toHexString(value) + ", which is not a non-zero 32-bit physical address; the file is damaged");
        }
        return GuestAddress.of(value);
    }

    private static long alignUp(long v, long align) {
        return (v + align - 1) & -align;
    }

    /** True when {@code [offset, offset + length)} lies inside the file (both read as u64). */
    private boolean inFile(long offset, long length) {
        return Long.compareUnsigned(offset, data.length) <= 0 && Long.compareUnsigned(length, data.length - offset) <= 0;
    }

    private boolean inLoadedImage(long physical) {
        for (LoadSegment s : segments) {
            if (s.loadsFromFile(physical)) {
                return true;
            }
        }
        return false;
    }

    private KernelImageException fail(String what) {
        return new KernelImageException("kernel " + name + ": " + what);
    }

    /** True when {@code head} starts with the ELF magic \x7fELF. */
    public static boolean isElf(byte[] head) {
        return head.length >= 4 && head[0] == 0x7f && head[1] == 'E' && head[2] == 'L' && head[3] == 'F';
    }

    /**
     * Reads and validates the ELF kernel at {@code path}.
     *
     * @throws KernelImageException when the file cannot be read or is not a loadable x86-64 ELF
     */
    public static ElfKernel load(Path path) {
        return new ElfKernel(path.toString(), KernelBytes.read(path));
    }

    /**
     * Validates {@code bytes} as an ELF kernel; {@code name} is used in error messages. The
     * array is not copied: the caller must not change it afterwards.
     *
     * @throws KernelImageException when the bytes are not a loadable x86-64 ELF
     */
    public static ElfKernel parse(String name, byte[] bytes) {
        return new ElfKernel(Objects.requireNonNull(name), Objects.requireNonNull(bytes));
    }

    /**
     * Checks that every segment lies in RAM the boot can use: from 1 MiB (below it Ristretto
     * keeps the GDT, zero page or PVH start_info, page tables, command line and the ACPI and MP
     * tables; see {@link Layout}) up to the end of low RAM. Nothing may go above the 32-bit MMIO
     * hole: the PVH entry runs with paging off in 32-bit mode, and the 64-bit entry's boot page
     * tables map only the first 4 GiB.
     *
     * @throws KernelImageException naming the segment and the fix when one does not fit
     */
    public void checkPlacement(MemoryLayout memory) {
        long floor = Layout.HIGH_MEMORY_START.value();
        long lowEnd = memory.lowRamEnd().value();
        long hole = Layout.MMIO_HOLE_START.value();
        for (LoadSegment s : segments) {
            long start = s.physicalAddress().value();
            long end = s.end().value();
            String range = "PT_LOAD segment at physical " + s.physicalAddress() + ".." + s.end();
            if (Long.compareUnsigned(start, floor) < 0) {
                throw fail(range + " starts below 1 MiB, in the low memory Ristretto keeps for boot structures;"
                        + " link the kernel at a physical address of 1 MiB or more");
            }
            if (Long.compareUnsigned(end, hole) > 0) {
                throw fail(range + " reaches past 3 GiB, where low RAM ends below the 32-bit MMIO hole, and ELF segments"
                        + " load at their physical addresses; link the kernel lower");
            }
            if (Long.compareUnsigned(end, lowEnd) > 0) {
                throw fail(range + " ends beyond the " + describe(memory.ramBytes()) + " guest's RAM (0x"
                        + Long.toHexString(lowEnd) + "); raise --memory to at least " + (end + Layout.MIB - 1) / Layout.MIB
                        + " MiB");
            }
        }
    }

    private static String describe(long bytes) {
        return bytes % Layout.MIB == 0 ? (bytes / Layout.MIB) + " MiB" : bytes + "-byte";
    }

    /**
     * Loads every segment into guest RAM: the file bytes at p_paddr, the rest of p_memsz zeroed
     * (the gABI's bss rule). Call {@link #checkPlacement} for this guest first.
     */
    public void copyTo(GuestMemory guest) {
        for (LoadSegment s : segments) {
            MemorySegment target = guest.slice(s.physicalAddress(), s.memorySize());
            MemorySegment.copy(data, Math.toIntExact(s.fileOffset()), target, ValueLayout.JAVA_BYTE, 0,
                    Math.toIntExact(s.fileSize()));
            target.asSlice(s.fileSize()).fill((byte) 0);
        }
    }

    /** The file name or description given when the kernel was loaded. */
    public String name() {
        return name;
    }

    /** e_type: {@link #ET_EXEC} or {@link #ET_DYN}. */
    public int type() {
        return type;
    }

    /** e_entry, taken as a physical address (see the class comment); not yet checked. */
    public long entry() {
        return entry;
    }

    /** The loadable segments with contents, in ascending physical order, not overlapping. */
    public List<LoadSegment> segments() {
        return segments;
    }

    /** The 32-bit PVH entry from XEN_ELFNOTE_PHYS32_ENTRY, when the kernel has that note. */
    public Optional<GuestAddress> pvhEntry() {
        return pvhEntry;
    }

    /**
     * The 32-bit PVH entry, for a boot through the PVH ABI.
     *
     * @throws KernelImageException when the kernel has no XEN_ELFNOTE_PHYS32_ENTRY note
     */
    public GuestAddress requirePvhEntry() {
        return pvhEntry.orElseThrow(() -> fail("has no XEN_ELFNOTE_PHYS32_ENTRY note, so it cannot be booted with PVH;"
                + " boot it with the linux protocol, or build Linux with CONFIG_PVH=y"));
    }

    /** True when the kernel supports the PVH boot ABI (it has XEN_ELFNOTE_PHYS32_ENTRY). */
    public boolean supportsPvh() {
        return pvhEntry.isPresent();
    }

    /** The lowest physical address any segment occupies. */
    public GuestAddress start() {
        return segments.getFirst().physicalAddress();
    }

    /** The first physical address after the highest segment. */
    public GuestAddress end() {
        return segments.getLast().end();
    }

    /**
     * e_entry as the physical address of the 64-bit entry point.
     *
     * @throws KernelImageException when it does not lie in a loaded segment's file contents
     */
    public GuestAddress entry64() {
        if (!inLoadedImage(entry)) {
            throw fail("its ELF entry point 0x" + Long.toHexString(entry) + " is not a physical address inside a PT_LOAD"
                    + " segment, so it cannot be entered directly in 64-bit mode"
                    + (supportsPvh() ? "; boot it with the PVH protocol instead" : ""));
        }
        return GuestAddress.of(entry);
    }

    @Override
    public String toString() {
        return "ELF kernel " + name + " (" + segments.size() + " PT_LOAD, " + start() + ".." + end()
                + pvhEntry.map(e -> ", PVH entry " + e).orElse("") + ")";
    }
}
