package dev.ristretto.firmware;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.memory.GuestAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class GdtTest {

    @Test
    void descriptorValues() {
        assertEquals(0x00af_9b00_0000_ffffL, Gdt.code64());
        assertEquals(0x00cf_9300_0000_ffffL, Gdt.data());
        assertEquals(0x0000_8b00_0600_0067L, Gdt.tssLow(GuestAddress.of(0x600)));
        assertEquals(0L, Gdt.tssHigh(GuestAddress.of(0x600)));
        assertEquals(0x1200_8b56_789a_0067L, Gdt.tssLow(GuestAddress.of(0xfedc_ba98_1256_789aL)));
        assertEquals(0xfedc_ba98L, Gdt.tssHigh(GuestAddress.of(0xfedc_ba98_1256_789aL)));
    }

    @Test
    void tableLayout() {
        byte[] bytes = Gdt.bytes(Layout.BOOT_TSS);
        assertEquals(48, bytes.length);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0L, b.getLong(0));
        assertEquals(0L, b.getLong(8));
        assertEquals(Gdt.code64(), b.getLong(Gdt.CODE64_SELECTOR));
        assertEquals(Gdt.data(), b.getLong(Gdt.DATA_SELECTOR));
        assertEquals(Gdt.tssLow(Layout.BOOT_TSS), b.getLong(Gdt.TSS_SELECTOR));
        assertEquals(new DescriptorTable(Layout.GDT, 47), Gdt.register(Layout.GDT));
        assertArrayEquals(bytes, Gdt.bytes(Layout.BOOT_TSS));
    }

    @Test
    void segmentStateMatchesTheDescriptors() {
        Segment cs = Gdt.codeSegment();
        assertEquals(new Segment(0, 0xffff_ffffL, 0x10, 0xb, true, 0, false, true, true, true, false), cs);
        Segment ds = Gdt.dataSegment();
        assertEquals(new Segment(0, 0xffff_ffffL, 0x18, 0x3, true, 0, true, true, false, true, false), ds);
        Segment tr = Gdt.taskSegment(Layout.BOOT_TSS);
        assertEquals(new Segment(0x600, 0x67, 0x20, 0xb, true, 0, false, false, false, false, false), tr);
    }

    @Test
    void decodesEveryDescriptorField() {
        long d = Gdt.descriptor(0x1234_5678L, 0x000ab, 0xf5, 0x1); // P, DPL 3, S, type 5, AVL, byte-granular
        Segment s = Segment.fromDescriptor(0x2b, d);
        assertEquals(0x1234_5678L, s.base());
        assertEquals(0xabL, s.limit());
        assertEquals(5, s.type());
        assertEquals(3, s.dpl());
        assertTrue(s.present());
        assertTrue(s.s());
        assertTrue(s.avl());
        assertFalse(s.g());
        assertFalse(s.l());
        assertFalse(s.db());
    }
}
