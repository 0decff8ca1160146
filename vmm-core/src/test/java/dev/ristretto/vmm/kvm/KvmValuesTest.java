package dev.ristretto.vmm.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.sys.Errno;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Value types, struct marshalling and user-facing messages, without /dev/kvm. */
class KvmValuesTest {

    @Test
    void unavailableMessagesSayHowToFixIt() {
        assertTrue(Kvm.unavailableMessage("/dev/kvm", Errno.ENOENT).endsWith("load kvm_intel/kvm_amd, enable "
                + "VT-x/AMD-V in the firmware, or enable nested virtualization in the host's settings"));
        assertTrue(Kvm.unavailableMessage("/dev/kvm", Errno.EACCES).endsWith("add your user to the kvm group "
                + "(sudo usermod -aG kvm $USER, then log in again) or add a udev rule"));
        assertEquals("cannot open /dev/kvm: Device or resource busy (errno 16)",
                Kvm.unavailableMessage("/dev/kvm", Errno.EBUSY));
    }

    @Test
    void segmentFromGdtDescriptor() {
        Segment code = Segment.fromDescriptor(0x10, 0x00af_9b00_0000_ffffL);
        assertEquals(new Segment(0, 0xffff_ffff, 0x10, 0xb, true, 0, false, true, true, true, false, false), code);
        assertEquals(0xa09b, code.attributes());
        Segment tss = Segment.fromDescriptor(0x18, 0x0000_8b12_3456_0067L);
        assertEquals(0x123456, tss.base());
        assertEquals(0x67, tss.limit());
        assertEquals(0xb, tss.type());
        assertEquals(false, tss.s());
        Segment based = Segment.fromDescriptor(0x8, 0xab4f_9a12_3456_ffffL);
        assertEquals(0xab12_3456L, based.base());
        assertThrows(IllegalArgumentException.class, () -> code.withType(16));
        assertThrows(IllegalArgumentException.class, () -> code.withSelector(0x10000));
    }

    @Test
    void sregsRoundTripThroughTheKernelLayout() {
        Segment cs = Segment.fromDescriptor(0x8, 0x00af_9b00_0000_ffffL);
        Segment ds = Segment.fromDescriptor(0x10, 0x00cf_9300_0000_ffffL);
        Segment tr = Segment.fromDescriptor(0x18, 0x0000_8b00_0000_0067L);
        Segment ldt = ds.withUnusable(true).withPresent(false);
        Sregs s = new Sregs(cs, ds, ds, ds.withBase(0x1234), ds, ds, tr, ldt, new DescriptorTable(0x500, 39),
                new DescriptorTable(0x600, 0xfff), 0x8000_0011L, 0x42, 0x1000, 0x20, 8, 0x500, 0xfee0_0900L,
                new long[] {1, 2, 3, 4});
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(KvmAbi.SREGS);
            Structs.writeSregs(m, s);
            // Spot-check against the C offsets KvmAbiTest verifies: fs.base at 72, cr0 at 224, efer at 264.
            assertEquals(0x1234, m.get(ValueLayout.JAVA_LONG, 72));
            assertEquals(0x8000_0011L, m.get(ValueLayout.JAVA_LONG, 224));
            assertEquals(0x500, m.get(ValueLayout.JAVA_LONG, 264));
            Sregs back = Structs.readSregs(m);
            assertEquals(s.cs(), back.cs());
            assertEquals(s.fs(), back.fs());
            assertEquals(s.tr(), back.tr());
            assertEquals(s.ldt(), back.ldt());
            assertEquals(s.gdt(), back.gdt());
            assertEquals(s.idt(), back.idt());
            assertEquals(s.efer(), back.efer());
            assertEquals(s.apicBase(), back.apicBase());
            assertArrayEquals(s.interruptBitmap(), back.interruptBitmap());
            assertEquals(s, back);
            assertEquals(s.hashCode(), back.hashCode());
        }
    }

    @Test
    void regsAndCpuidRoundTrip() {
        Regs r = new Regs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x1000, 2);
        CpuidEntry e = new CpuidEntry(0xb, 1, 1, 3, 6, 0x201, 5);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(KvmAbi.REGS);
            Structs.writeRegs(m, r);
            assertEquals(0x1000, m.get(ValueLayout.JAVA_LONG, 128)); // rip
            assertEquals(r, Structs.readRegs(m));
            MemorySegment c = arena.allocate(KvmAbi.CPUID_ENTRY2);
            c.fill((byte) 0x55);
            Structs.writeCpuidEntry(c, e);
            assertEquals(e, Structs.readCpuidEntry(c));
            assertEquals(0, c.get(ValueLayout.JAVA_INT, 28), "padding cleared");
        }
    }

    @Test
    void exitRecordsCheckTheirSizesAndHandBackExactly() {
        MemorySegment w = MemorySegment.ofArray(new byte[4]);
        VcpuExit.IoIn in = new VcpuExit.IoIn(0x60, 2, 2, w);
        assertThrows(IllegalArgumentException.class, () -> in.complete(new byte[3]));
        in.complete(new byte[] {1, 2, 3, 4});
        assertArrayEquals(new byte[] {1, 2, 3, 4}, w.toArray(ValueLayout.JAVA_BYTE));
        assertThrows(IllegalArgumentException.class, () -> new VcpuExit.IoIn(0x60, 3, 1, MemorySegment.ofArray(new byte[3])));
        assertThrows(IllegalArgumentException.class, () -> new VcpuExit.IoIn(0x10000, 1, 1, MemorySegment.ofArray(new byte[1])));
        assertThrows(IllegalArgumentException.class, () -> new VcpuExit.IoOut(0x60, 1, 2, new byte[1]));
        assertThrows(IllegalArgumentException.class, () -> new VcpuExit.MmioWrite(0, new byte[9]));
        VcpuExit.MmioRead read = new VcpuExit.MmioRead(0x1000, 2, MemorySegment.ofArray(new byte[2]));
        assertThrows(IllegalArgumentException.class, () -> read.complete(new byte[4]));
        byte[] data = {1};
        VcpuExit.IoOut out = new VcpuExit.IoOut(0x60, 1, 1, data);
        data[0] = 9;
        assertEquals(1, out.data()[0], "defensive copy");
        assertEquals("emulation failure", new VcpuExit.InternalError(1, List.of()).suberrorName());
    }
}
