package dev.ristretto.firmware.pvh;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.firmware.BootSetupException;
import dev.ristretto.firmware.Gdt;
import dev.ristretto.firmware.Initrd;
import dev.ristretto.firmware.KernelImageException;
import dev.ristretto.firmware.Layout;
import dev.ristretto.firmware.MemoryLayout;
import dev.ristretto.firmware.Segment;
import dev.ristretto.firmware.elf.ElfKernel;
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

class PvhBootTest {
    private static final long MIB = Layout.MIB;
    private static final MemoryLayout RAM_64M = MemoryLayout.forRam(64 * MIB);
    private static final long ENTRY = 0x20_0040;

    /** A minimal ELF64 with one PT_LOAD at 2 MiB and the Xen PHYS32_ENTRY note pointing into it. */
    static ElfKernel kernel(boolean withNote) {
        ByteBuffer b = ByteBuffer.allocate(0x2000).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0});
        b.putShort(0x10, (short) ElfKernel.ET_EXEC).putShort(0x12, (short) ElfKernel.EM_X86_64).putInt(0x14, 1);
        b.putLong(0x18, 0x20_0000).putLong(0x20, 0x40).putShort(0x36, (short) 56).putShort(0x38, (short) 2);
        b.putInt(0x40, ElfKernel.PT_LOAD).putLong(0x48, 0x1000).putLong(0x58, 0x20_0000).putLong(0x60, 0x1000)
                .putLong(0x68, 0x2000);
        b.putInt(0x78, ElfKernel.PT_NOTE).putLong(0x80, 0x100).putLong(0x98, 20).putLong(0xa8, 4);
        b.putInt(0x100, 4).putInt(0x104, 4).putInt(0x108, withNote ? ElfKernel.XEN_ELFNOTE_PHYS32_ENTRY : 1);
        b.put(0x10c, new byte[] {'X', 'e', 'n', 0}).putInt(0x110, (int) ENTRY);
        for (int i = 0; i < 0x1000; i++) {
            b.put(0x1000 + i, (byte) (i ^ 0x5a));
        }
        return ElfKernel.parse("pvh.elf", b.array());
    }

    @Test
    void cpuStateFollowsThePvhAbi() {
        PvhCpuState s = PvhBoot.plan(RAM_64M, kernel(true), "").entry();
        assertEquals(ENTRY, s.rip());
        assertEquals(Layout.PVH_START_INFO.value(), s.rbx()); // ebx: start_info
        assertEquals(1L | 1L << 4, s.cr0()); // PE (and ET); PG clear
        assertEquals(0, s.cr4()); // all bits clear
        assertEquals(0, s.cr3());
        assertEquals(0, s.efer()); // not long mode
        assertEquals(0x2, s.rflags()); // IF, TF, VM clear
        assertEquals(Gdt.register(Layout.GDT), s.gdt());
        assertEquals(0, s.idt().limit());

        // cs: 32-bit read/execute, base 0, limit 0xffffffff.
        Segment cs = s.cs();
        assertEquals(0, cs.base());
        assertEquals(0xffff_ffffL, cs.limit());
        assertEquals(0xb, cs.type());
        assertTrue(cs.db() && !cs.l() && cs.s() && cs.present() && cs.g());
        assertEquals(0, cs.dpl());
        // ds, es, ss (and fs, gs): 32-bit read/write, base 0, limit 0xffffffff.
        for (Segment d : List.of(s.ds(), s.es(), s.ss(), s.fs(), s.gs())) {
            assertEquals(0, d.base());
            assertEquals(0xffff_ffffL, d.limit());
            assertEquals(0x3, d.type());
            assertTrue(d.db() && d.s() && d.present());
            assertEquals(Gdt.DATA_SELECTOR, d.selector());
        }
        // tr: a 32-bit busy TSS with base 0 and limit 0x67.
        Segment tr = s.tr();
        assertEquals(0, tr.base());
        assertEquals(0x67, tr.limit());
        assertEquals(0xb, tr.type());
        assertFalse(tr.s());
        assertTrue(tr.present());
    }

    @Test
    void gdtDescriptorsDecodeToTheSegmentsLoaded() {
        long[] e = PvhGdt.entries();
        assertEquals(6, e.length);
        assertEquals(0, e[0]);
        assertEquals(0x00cf_9b00_0000_ffffL, e[2]); // flat 32-bit code
        assertEquals(0x00cf_9300_0000_ffffL, e[3]); // flat data
        assertEquals(0x0000_8b00_0000_0067L, e[4]); // busy TSS at 0, limit 0x67
        assertEquals(PvhGdt.codeSegment(), Segment.fromDescriptor(0x10, e[2]));
        assertEquals(PvhGdt.taskSegment(), Segment.fromDescriptor(0x20, e[4]));
        ByteBuffer b = ByteBuffer.wrap(PvhGdt.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < e.length; i++) {
            assertEquals(e[i], b.getLong(i * 8));
        }
    }

    @Test
    void kernelWithoutTheNoteIsRefused() {
        String m = assertThrows(KernelImageException.class, () -> PvhBoot.plan(RAM_64M, kernel(false), "")).getMessage();
        assertEquals("kernel pvh.elf: has no XEN_ELFNOTE_PHYS32_ENTRY note, so it cannot be booted with PVH; boot it with"
                + " the linux protocol, or build Linux with CONFIG_PVH=y", m);
    }

    @Test
    void commandLineAndInitrdAreChecked() {
        assertThrows(BootSetupException.class, () -> PvhBoot.plan(RAM_64M, kernel(true), "a\nb"));
        assertThrows(BootSetupException.class, () -> PvhBoot.plan(RAM_64M, kernel(true), "x".repeat(2048)));
        Initrd huge = new Initrd.FromFile(java.nio.file.Path.of("/x/rd"), 63 * MIB);
        assertThrows(BootSetupException.class, () -> PvhBoot.plan(RAM_64M, kernel(true), Optional.of(huge), ""));
    }

    @Test
    void writesEverythingTheStartInfoPointsAt() {
        byte[] rd = "module bytes".getBytes(StandardCharsets.US_ASCII);
        PvhBootPlan p = PvhBoot.plan(RAM_64M, kernel(true), Optional.of(Initrd.of("rd", rd)), "console=ttyS0")
                .withAcpiRsdp(GuestAddress.of(0xe0000));
        GuestAddress rdAt = p.initrdAddress().orElseThrow();
        assertTrue(rdAt.value() >= 0x20_2000 && rdAt.value() + rd.length <= 64 * MIB, rdAt.toString());
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory mem = GuestMemory.of(List.of(new GuestRegion(GuestAddress.of(0), arena.allocate(64 * MIB, 4096))));
            p.writeTo(mem);
            assertEquals((byte) (1 ^ 0x5a), mem.readByte(GuestAddress.of(0x20_0001)));
            assertEquals(0L, mem.readLong(GuestAddress.of(0x20_1ff8))); // bss zeroed

            // Follow the pointers from start_info, as the guest would.
            GuestAddress si = Layout.PVH_START_INFO;
            assertEquals(StartInfo.MAGIC, mem.readInt(si));
            GuestAddress cmdline = GuestAddress.of(mem.readLong(si.checkedAdd(0x18)));
            assertArrayEquals("console=ttyS0\0".getBytes(StandardCharsets.US_ASCII), mem.read(cmdline, 14));
            GuestAddress modlist = GuestAddress.of(mem.readLong(si.checkedAdd(0x10)));
            assertEquals(rdAt.value(), mem.readLong(modlist));
            assertEquals(rd.length, mem.readLong(modlist.checkedAdd(8)));
            assertArrayEquals(rd, mem.read(rdAt, rd.length));
            GuestAddress memmap = GuestAddress.of(mem.readLong(si.checkedAdd(0x28)));
            assertEquals(RAM_64M.e820().size(), mem.readInt(si.checkedAdd(0x30)));
            assertEquals(0x10_0000L, mem.readLong(memmap.checkedAdd(2 * 24)));
            assertEquals(0xe0000L, mem.readLong(si.checkedAdd(0x20)));
            assertArrayEquals(PvhGdt.bytes(), mem.read(Layout.GDT, Gdt.SIZE));
            // PVH runs with paging off: no page tables are written.
            assertEquals(0L, mem.readLong(Layout.PML4));
        }
    }

    /** toString names the plan, the kernel's span and entry, the initrd when there is one and the command line's length. */
    @Test
    void describesItselfForLogs() {
        PvhBootPlan p = PvhBoot.plan(RAM_64M, kernel(true), "quiet");
        String kernel = "kernel " + p.kernel().start() + ".." + p.kernel().end() + ", entry " + p.entryAddress();
        assertEquals("PvhBootPlan[" + kernel + ", cmdline 5 bytes]", p.toString());
        PvhBootPlan q = PvhBoot.plan(RAM_64M, kernel(true), Optional.of(Initrd.of("rd", new byte[5000])), "")
                .withAcpiRsdp(GuestAddress.of(0xe0000));
        assertEquals("PvhBootPlan[" + kernel + ", initrd at " + q.initrdAddress().orElseThrow() + "+0x1388, cmdline 0 bytes]",
                q.toString());
    }
}
