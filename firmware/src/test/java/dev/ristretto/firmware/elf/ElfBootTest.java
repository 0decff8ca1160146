package dev.ristretto.firmware.elf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.firmware.BootCpuState;
import dev.ristretto.firmware.BootSetupException;
import dev.ristretto.firmware.E820Entry;
import dev.ristretto.firmware.Gdt;
import dev.ristretto.firmware.Initrd;
import dev.ristretto.firmware.KernelImageException;
import dev.ristretto.firmware.Layout;
import dev.ristretto.firmware.MemoryLayout;
import dev.ristretto.firmware.PageTables;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.memory.GuestRegion;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ElfBootTest {
    private static final long MIB = Layout.MIB;
    private static final MemoryLayout RAM_64M = MemoryLayout.forRam(64 * MIB);

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void entersTheElfEntryInLongModeWithTheZeroPageInRsi() {
        ElfBootPlan p = ElfBoot.plan(RAM_64M, TestElf.kernel(), "console=ttyS0");
        BootCpuState s = p.entry();
        assertEquals(TestElf.TEXT_PADDR + TestElf.ENTRY_OFFSET, s.rip());
        assertEquals(Layout.ZERO_PAGE.value(), s.rsi());
        assertEquals(Layout.PML4.value(), s.cr3());
        assertEquals(BootCpuState.CR0_PE | BootCpuState.CR0_ET | BootCpuState.CR0_PG, s.cr0());
        assertEquals(BootCpuState.CR4_PAE, s.cr4());
        assertEquals(BootCpuState.EFER_LME | BootCpuState.EFER_LMA, s.efer());
        assertEquals(BootCpuState.RFLAGS_RESERVED, s.rflags());
        assertEquals(Gdt.codeSegment(), s.cs());
        assertEquals(Gdt.CODE64_SELECTOR, s.cs().selector());
        assertTrue(s.cs().l());
        assertEquals(Gdt.dataSegment(), s.ss());
        assertEquals(Gdt.register(Layout.GDT), s.gdt());
        assertEquals(Gdt.taskSegment(Layout.BOOT_TSS), s.tr());
    }

    @Test
    void zeroPageCarriesASynthesisedSetupHeader() {
        ElfBootPlan p = ElfBoot.plan(RAM_64M, TestElf.kernel(), Optional.of(Initrd.of("rd", new byte[5000])), "quiet")
                .withAcpiRsdp(GuestAddress.of(0xe0000));
        ByteBuffer z = le(p.bootParams());
        // boot.rst "THE REAL-MODE KERNEL HEADER" offsets.
        assertEquals((short) 0xaa55, z.getShort(0x1fe));
        assertEquals(0x53726448, z.getInt(0x202)); // "HdrS"
        assertEquals((short) 0x020f, z.getShort(0x206));
        assertEquals((byte) 0xff, z.get(0x210)); // type_of_loader: undefined
        assertEquals(0x100_0000, z.getInt(0x230)); // kernel_alignment
        assertEquals(2047, z.getInt(0x238)); // cmdline_size
        assertEquals((int) Layout.CMDLINE.value(), z.getInt(0x228)); // cmd_line_ptr
        assertEquals(0, z.getInt(0x0c8)); // ext_cmd_line_ptr
        assertEquals((int) p.initrdAddress().orElseThrow().value(), z.getInt(0x218)); // ramdisk_image
        assertEquals(5000, z.getInt(0x21c)); // ramdisk_size
        assertEquals(0, z.getLong(0x250)); // setup_data: none
        assertEquals(0xe0000L, z.getLong(0x070)); // acpi_rsdp_addr
        // The e820 table is the memory layout's, as in a bzImage boot.
        List<E820Entry> e820 = RAM_64M.e820();
        assertEquals((byte) e820.size(), z.get(0x1e8));
        for (int i = 0; i < e820.size(); i++) {
            int at = 0x2d0 + i * 20;
            assertEquals(e820.get(i).start().value(), z.getLong(at));
            assertEquals(e820.get(i).size(), z.getLong(at + 8));
            assertEquals(e820.get(i).type().code(), z.getInt(at + 16));
        }
    }

    @Test
    void initrdGoesAsHighAsPossibleBelowTwoGibAndClearOfTheKernel() {
        Initrd rd = new Initrd.FromFile(java.nio.file.Path.of("/x/initrd"), 3 * MIB + 1);
        ElfBootPlan p = ElfBoot.plan(RAM_64M, TestElf.kernel(), Optional.of(rd), "");
        // Top of the 64 MiB guest minus 3 MiB + 1, rounded down to a page.
        assertEquals(GuestAddress.of((64 * MIB - (3 * MIB + 1)) & ~0xfffL), p.initrdAddress().orElseThrow());
        // A guest above 2 GiB keeps it below initrd_addr_max 0x7fffffff.
        ElfBootPlan big = ElfBoot.plan(MemoryLayout.forRam(4 * Layout.GIB), TestElf.kernel(), Optional.of(rd), "");
        long at = big.initrdAddress().orElseThrow().value();
        assertTrue(at + rd.size() - 1 <= ElfBoot.INITRD_ADDR_MAX, Long.toHexString(at));
        // One that cannot fit names the fix.
        Initrd huge = new Initrd.FromFile(java.nio.file.Path.of("/x/initrd"), 62 * MIB);
        String m = assertThrows(BootSetupException.class,
                () -> ElfBoot.plan(RAM_64M, TestElf.kernel(), Optional.of(huge), "")).getMessage();
        assertTrue(m.startsWith("initrd /x/initrd is 62.0 MiB but the largest free RAM for it in the 64 MiB guest is"), m);
        assertTrue(m.endsWith("raise --memory to at least 65 MiB"), m);
    }

    @Test
    void commandLineIsLimitedToLinuxsCommandLineSize() {
        ElfBoot.plan(RAM_64M, TestElf.kernel(), "x".repeat(2047));
        String m = assertThrows(BootSetupException.class, () -> ElfBoot.plan(RAM_64M, TestElf.kernel(), "x".repeat(2048)))
                .getMessage();
        assertEquals("kernel command line: append is 2048 bytes; this kernel accepts at most 2047 (shorten it)", m);
    }

    @Test
    void planningChecksPlacementAndEntry() {
        ByteBuffer b = TestElf.valid();
        b.putLong(TestElf.PHDR1 + 0x18, 0x400_0000);
        assertThrows(KernelImageException.class, () -> ElfBoot.plan(RAM_64M, TestElf.parse(b), ""));
        ByteBuffer virtualEntry = TestElf.valid().putLong(0x18, 0xffff_ffff_8120_0000L);
        assertThrows(KernelImageException.class, () -> ElfBoot.plan(RAM_64M, TestElf.parse(virtualEntry), ""));
    }

    @Test
    void writesSegmentsTablesCommandLineAndZeroPage() {
        byte[] initrd = "INITRD-CONTENT".getBytes(StandardCharsets.US_ASCII);
        ElfBootPlan p = ElfBoot.plan(MemoryLayout.forRam(32 * MIB), TestElf.kernel(), Optional.of(Initrd.of("rd", initrd)),
                "console=ttyS0 root=/dev/vda");
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = GuestMemory.of(List.of(new GuestRegion(GuestAddress.of(0), arena.allocate(32 * MIB, 4096))));
            p.writeTo(mem);
            assertEquals((byte) 7, mem.readByte(GuestAddress.of(TestElf.TEXT_PADDR + 1)));
            assertEquals((byte) 14, mem.readByte(GuestAddress.of(TestElf.DATA_PADDR + 1)));
            assertArrayEquals(initrd, mem.read(p.initrdAddress().orElseThrow(), initrd.length));
            assertArrayEquals("console=ttyS0 root=/dev/vda\0".getBytes(StandardCharsets.US_ASCII),
                    mem.read(Layout.CMDLINE, 28));
            assertArrayEquals(p.bootParams(), mem.read(Layout.ZERO_PAGE, 4096));
            assertArrayEquals(PageTables.identityMap4GiB(Layout.PML4), mem.read(Layout.PML4, PageTables.SIZE));
            assertArrayEquals(Gdt.bytes(Layout.BOOT_TSS), mem.read(Layout.GDT, Gdt.SIZE));
        }
    }

    /** toString names the plan, the kernel's span and entry, the initrd when there is one and the command line's length. */
    @Test
    void describesItselfForLogs() {
        ElfBootPlan p = ElfBoot.plan(RAM_64M, TestElf.kernel(), "quiet");
        String kernel = "kernel " + p.kernel().start() + ".." + p.kernel().end() + ", entry " + p.entryAddress();
        assertEquals("ElfBootPlan[" + kernel + ", cmdline 5 bytes]", p.toString());
        ElfBootPlan q = ElfBoot.plan(RAM_64M, TestElf.kernel(), Optional.of(Initrd.of("rd", new byte[5000])), "")
                .withAcpiRsdp(GuestAddress.of(0xe0000));
        assertEquals("ElfBootPlan[" + kernel + ", initrd at " + q.initrdAddress().orElseThrow() + "+0x1388, cmdline 0 bytes]",
                q.toString());
    }
}
