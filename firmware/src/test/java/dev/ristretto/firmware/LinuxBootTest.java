package dev.ristretto.firmware;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.memory.GuestRegion;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LinuxBootTest {
    private static final long MIB = Layout.MIB;
    private static final MemoryLayout RAM_256M = MemoryLayout.forRam(256 * MIB);

    private static BzImage kernel(long initSize, boolean relocatable, boolean above4G, long initrdAddrMax) {
        ByteBuffer b = TestKernels.valid();
        b.putInt(0x260, (int) initSize);
        b.put(0x234, (byte) (relocatable ? 1 : 0));
        b.putShort(0x236, (short) (BzImage.XLF_KERNEL_64 | (above4G ? BzImage.XLF_CAN_BE_LOADED_ABOVE_4G : 0)));
        b.putInt(0x22c, (int) initrdAddrMax);
        return TestKernels.parse(b);
    }

    private static Initrd sized(long size) {
        // Placement never reads the file; only its size matters.
        return new Initrd.FromFile(Path.of("/images/initrd.img"), size);
    }

    @Test
    void kernelGoesToPrefAddress() {
        LinuxBootPlan p = LinuxBoot.plan(RAM_256M, TestKernels.image(), "console=ttyS0");
        assertEquals(GuestAddress.of(0x100_0000), p.kernelAddress());
        assertEquals(GuestAddress.of(0x140_0000), p.kernelEnd());
        assertEquals(Optional.empty(), p.initrdAddress());
        assertEquals(0, p.initrdSize());
    }

    @Test
    void relocatableKernelMovesDownWhenPrefAddressDoesNotFit() {
        // 16 MiB + 20 MiB passes the end of a 32 MiB guest; 2 MiB (the first aligned address
        // above 1 MiB) + 20 MiB does not.
        LinuxBootPlan p = LinuxBoot.plan(MemoryLayout.forRam(32 * MIB), kernel(20 * MIB, true, true, 0x7fff_ffffL), "");
        assertEquals(GuestAddress.of(0x20_0000), p.kernelAddress());
    }

    @Test
    void kernelThatFitsNowhereNamesTheMemoryNeeded() {
        String m = assertThrows(BootSetupException.class,
                () -> LinuxBoot.plan(MemoryLayout.forRam(32 * MIB), kernel(31 * MIB, true, true, 0x7fff_ffffL), "")).getMessage();
        assertEquals("kernel test.bzImage needs 31.0 MiB (init_size) from its load address 0x200000, but the 32 MiB"
                + " guest's low RAM ends at 0x2000000; raise --memory to at least 33 MiB", m);
        LinuxBoot.plan(MemoryLayout.forRam(33 * MIB), kernel(31 * MIB, true, true, 0x7fff_ffffL), "");
    }

    @Test
    void nonRelocatableKernelLoadsOnlyAtPrefAddress() {
        BzImage fixed = kernel(20 * MIB, false, true, 0x7fff_ffffL);
        assertEquals(GuestAddress.of(0x100_0000), LinuxBoot.plan(RAM_256M, fixed, "").kernelAddress());
        String m = assertThrows(BootSetupException.class,
                () -> LinuxBoot.plan(MemoryLayout.forRam(32 * MIB), fixed, "")).getMessage();
        assertTrue(m.endsWith("from its load address 0x1000000, but the 32 MiB guest's low RAM ends at 0x2000000;"
                + " raise --memory to at least 36 MiB"), m);
    }

    @Test
    void nonRelocatableKernelWithPrefAddressOutsideLowRamIsRefused() {
        for (long pref : new long[] {0x8_0000L, 0xc000_0000L, -0x1000_0000L}) {
            ByteBuffer b = TestKernels.valid();
            b.put(0x234, (byte) 0);
            b.putLong(0x258, pref);
            String m = assertThrows(BootSetupException.class, () -> LinuxBoot.plan(RAM_256M, TestKernels.parse(b), ""))
                    .getMessage();
            assertEquals("kernel test.bzImage: not relocatable and its pref_address 0x" + Long.toHexString(pref)
                    + " lies outside low RAM (1 MiB to 3 GiB), where it would have to run; use a relocatable kernel"
                    + " (CONFIG_RELOCATABLE=y)", m);
        }
    }

    @Test
    void initrdGoesAsHighAsRamAllowsPageAligned() {
        long size = MIB + 123;
        LinuxBootPlan p = LinuxBoot.plan(RAM_256M, TestKernels.image(), sized(size), "");
        long at = p.initrdAddress().orElseThrow().value();
        assertEquals((0x1000_0000L - size) & ~0xfffL, at);
        assertEquals(0x0fef_f000L, at);
        assertEquals(size, p.initrdSize());
    }

    @Test
    void initrdRespectsInitrdAddrMax() {
        // The last byte may sit at initrd_addr_max itself, not past it.
        BzImage k = kernel(4 * MIB, true, false, 0x08ff_ffffL);
        long at = LinuxBoot.plan(RAM_256M, k, sized(0x2000), "").initrdAddress().orElseThrow().value();
        assertEquals(0x08ff_e000L, at);

        BzImage odd = kernel(4 * MIB, true, false, 0x08ff_ff00L);
        long at2 = LinuxBoot.plan(RAM_256M, odd, sized(0x2000), "").initrdAddress().orElseThrow().value();
        assertEquals(0x08ff_d000L, at2);
        assertTrue(at2 + 0x2000 - 1 <= 0x08ff_ff00L);
    }

    @Test
    void initrdStaysBelowInitrdAddrMaxInALargeGuest() {
        LinuxBootPlan p = LinuxBoot.plan(MemoryLayout.forRam(6 * Layout.GIB), TestKernels.image(), sized(10 * MIB), "");
        assertEquals(GuestAddress.of(0x8000_0000L - 10 * MIB), p.initrdAddress().orElseThrow());
    }

    @Test
    void initrdAvoidsTheKernelSpan() {
        // 32 MiB guest, kernel at 16..20 MiB: 12 MiB free above it is too little for 13 MiB, so
        // the initrd goes below the kernel, ending exactly where the kernel starts.
        LinuxBootPlan p = LinuxBoot.plan(MemoryLayout.forRam(32 * MIB), TestKernels.image(), sized(13 * MIB), "");
        assertEquals(GuestAddress.of(3 * MIB), p.initrdAddress().orElseThrow());
        // 12 MiB fits exactly above the kernel.
        LinuxBootPlan q = LinuxBoot.plan(MemoryLayout.forRam(32 * MIB), TestKernels.image(), sized(12 * MIB), "");
        assertEquals(GuestAddress.of(20 * MIB), q.initrdAddress().orElseThrow());
    }

    @Test
    void initrdTooBigNamesSizesAndTheFix() {
        BzImage k = kernel(4 * MIB, true, false, 0x7fff_ffffL);
        String m = assertThrows(BootSetupException.class,
                () -> LinuxBoot.plan(RAM_256M, k, sized(300 * MIB), "")).getMessage();
        assertEquals("initrd /images/initrd.img is 300.0 MiB but the largest free RAM for it in the 256 MiB guest is"
                + " 236.0 MiB (the kernel takes 0x1000000..0x1400000); raise --memory to at least 320 MiB", m);
        // The suggested size works.
        LinuxBootPlan p = LinuxBoot.plan(MemoryLayout.forRam(320 * MIB), k, sized(300 * MIB), "");
        assertEquals(GuestAddress.of(20 * MIB), p.initrdAddress().orElseThrow());
    }

    @Test
    void initrdBeyondInitrdAddrMaxIsRefusedWhenTheKernelCannotGoAbove4G() {
        BzImage k = kernel(4 * MIB, true, false, 0x7fff_ffffL);
        String m = assertThrows(BootSetupException.class,
                () -> LinuxBoot.plan(MemoryLayout.forRam(8 * Layout.GIB), k, sized(2 * Layout.GIB), "")).getMessage();
        assertTrue(m.endsWith("this kernel cannot take an initrd that large below its initrd_addr_max 0x7fffffff;"
                + " use a smaller initrd"), m);
    }

    @Test
    void hugeInitrdGoesAbove4GWhenTheKernelAllowsIt() {
        long size = 2 * Layout.GIB + 4096;
        LinuxBootPlan p = LinuxBoot.plan(MemoryLayout.forRam(6 * Layout.GIB), TestKernels.image(), sized(size), "");
        assertEquals(GuestAddress.of(0x1_c000_0000L - size), p.initrdAddress().orElseThrow());
        ByteBuffer zp = ByteBuffer.wrap(p.bootParams()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(1, zp.getInt(0x0c0)); // ext_ramdisk_image: bits 63:32 of the address
        assertEquals(0x3fff_f000, zp.getInt(0x218));
        assertEquals((int) 0x8000_1000L, zp.getInt(0x21c)); // ramdisk_size low half
        assertEquals(0, zp.getInt(0x0c4)); // ext_ramdisk_size
    }

    @Test
    void commandLineIsCheckedAgainstTheKernelsCmdlineSize() {
        String m = assertThrows(BootSetupException.class,
                () -> LinuxBoot.plan(RAM_256M, TestKernels.image(), "x".repeat(3000))).getMessage();
        assertEquals("kernel command line: append is 3000 bytes; this kernel accepts at most 2047 (shorten it)", m);
    }

    @Test
    void entryStateFollowsThe64BitBootProtocol() {
        BootCpuState s = LinuxBoot.plan(RAM_256M, TestKernels.image(), "").entry();
        assertEquals(0x100_0200L, s.rip());
        assertEquals(0x7000L, s.rsi());
        assertEquals(0x8ff0L, s.rsp());
        assertEquals(0x2L, s.rflags());
        assertEquals(0x8000_0011L, s.cr0());
        assertEquals(0x9000L, s.cr3());
        assertEquals(0x20L, s.cr4());
        assertEquals(0x500L, s.efer());
        assertEquals(new DescriptorTable(GuestAddress.of(0x500), 47), s.gdt());
        assertEquals(new DescriptorTable(GuestAddress.of(0), 0), s.idt());
        assertEquals(0x10, s.cs().selector());
        assertTrue(s.cs().l());
        for (Segment d : List.of(s.ds(), s.es(), s.fs(), s.gs(), s.ss())) {
            assertEquals(Gdt.dataSegment(), d);
            assertEquals(0x18, d.selector());
        }
        assertEquals(0x20, s.tr().selector());
        assertEquals(Layout.BOOT_TSS.value(), s.tr().base());
    }

    @Test
    void writesEverythingIntoGuestMemory(@TempDir Path dir) throws IOException {
        byte[] rd = new byte[5000];
        for (int i = 0; i < rd.length; i++) {
            rd[i] = (byte) (i * 13 + 1);
        }
        Path rdFile = dir.resolve("initrd");
        Files.write(rdFile, rd);
        MemoryLayout layout = MemoryLayout.forRam(32 * MIB);
        LinuxBootPlan p = LinuxBoot.plan(layout, TestKernels.image(), Initrd.of(rdFile), "console=ttyS0 quiet")
                .withAcpiRsdp(GuestAddress.of(0xe0000));
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = GuestMemory.of(List.of(new GuestRegion(GuestAddress.of(0), arena.allocate(32 * MIB, 4096))));
            p.writeTo(mem);

            BzImage k = TestKernels.image();
            byte[] payload = mem.read(p.kernelAddress(), (int) k.payloadLength());
            for (int i = 0; i < payload.length; i++) {
                assertEquals((byte) (i * 7), payload[i], "payload byte " + i);
            }
            assertArrayEquals(rd, mem.read(p.initrdAddress().orElseThrow(), rd.length));
            assertArrayEquals("console=ttyS0 quiet\0".getBytes(), mem.read(Layout.CMDLINE, 20));

            byte[] zp = mem.read(Layout.ZERO_PAGE, 4096);
            assertArrayEquals(p.bootParams(), zp);
            ByteBuffer z = ByteBuffer.wrap(zp).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(0x20000, z.getInt(0x228));
            assertEquals((int) p.initrdAddress().orElseThrow().value(), z.getInt(0x218));
            assertEquals(5000, z.getInt(0x21c));
            assertEquals(0xe0000L, z.getLong(0x070));
            assertEquals(3, z.get(0x1e8));

            assertEquals(0xa003L, mem.readLong(Layout.PML4));
            assertEquals(0x83L, mem.readLong(Layout.PD));
            assertEquals(Gdt.code64(), mem.readLong(GuestAddress.of(0x510)));
            assertEquals(Gdt.data(), mem.readLong(GuestAddress.of(0x518)));
            assertEquals(Gdt.tssLow(Layout.BOOT_TSS), mem.readLong(GuestAddress.of(0x520)));
        }
    }

    @Test
    void writesNoRsdpUnlessGiven() {
        byte[] zp = LinuxBoot.plan(RAM_256M, TestKernels.image(), "").bootParams();
        assertEquals(0L, ByteBuffer.wrap(zp).order(ByteOrder.LITTLE_ENDIAN).getLong(0x070));
    }

    @Test
    void rejectsEmptyOrMissingInitrdFiles(@TempDir Path dir) throws IOException {
        Path empty = Files.createFile(dir.resolve("empty.img"));
        assertEquals("initrd " + empty + " is empty; leave out --initrd instead",
                assertThrows(BootSetupException.class, () -> Initrd.of(empty)).getMessage());
        Path missing = dir.resolve("missing.img");
        assertEquals("initrd " + missing + " does not exist or is not a regular file",
                assertThrows(BootSetupException.class, () -> Initrd.of(missing)).getMessage());
    }

    /** toString names the plan, the kernel's span, the initrd when there is one and the command line's length. */
    @Test
    void describesItselfForLogs() {
        LinuxBootPlan p = LinuxBoot.plan(RAM_256M, TestKernels.image(), "console=ttyS0");
        assertEquals("LinuxBootPlan[kernel at " + p.kernelAddress() + ".." + p.kernelEnd() + ", cmdline 13 bytes]",
                p.toString());
        LinuxBootPlan q = LinuxBoot.plan(RAM_256M, TestKernels.image(), Initrd.of("rd", new byte[5000]), "")
                .withAcpiRsdp(GuestAddress.of(0xe0000));
        assertEquals("LinuxBootPlan[kernel at " + q.kernelAddress() + ".." + q.kernelEnd() + ", initrd at "
                + q.initrdAddress().orElseThrow() + "+0x1388, cmdline 0 bytes]", q.toString());
    }
}
