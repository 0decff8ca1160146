package dev.ristretto.firmware.mptable;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.memory.GuestAddress;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MpTableTest {

    private static final GuestAddress AT = GuestAddress.of(0x9fc00);
    private static final int IOAPIC_ID = 0;

    private static MpConfig config(int vcpus) {
        return new MpConfig(vcpus, 0xfee0_0000L, IOAPIC_ID, 0xfec0_0000L, "RSTRTO", "RISTRETTO");
    }

    private static int sum(byte[] b, int from, int to) {
        int s = 0;
        for (int i = from; i < to; i++) {
            s += b[i] & 0xff;
        }
        return s & 0xff;
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 64, 255})
    void floatingPointerAndConfigurationTable(int vcpus) {
        byte[] t = MpTable.build(config(vcpus), AT);
        assertEquals(16 + 44 + 20 * vcpus + 8 * (1 + 1 + 15 + 2), t.length);
        assertEquals(MpTable.size(vcpus), t.length);

        // Floating pointer, MP 1.4 Table 4-1.
        assertEquals("_MP_", new String(t, 0, 4, StandardCharsets.US_ASCII));
        assertEquals(AT.value() + 16, le(t).getInt(4) & 0xffff_ffffL, "points at PCMP");
        assertEquals(1, t[8], "length in paragraphs");
        assertEquals(4, t[9], "spec rev 1.4");
        assertEquals(0, sum(t, 0, 16), "floating pointer checksum");
        assertEquals(0, t[11], "FEATURE1: config table present, no default config");

        // Configuration table header, Table 4-2.
        byte[] c = Arrays.copyOfRange(t, 16, t.length);
        assertEquals("PCMP", new String(c, 0, 4, StandardCharsets.US_ASCII));
        assertEquals(c.length, le(c).getShort(4), "base table length");
        assertEquals(4, c[6]);
        assertEquals(0, sum(c, 0, c.length), "configuration table checksum");
        assertEquals("RSTRTO  ", new String(c, 8, 8, StandardCharsets.US_ASCII));
        assertEquals("RISTRETTO   ", new String(c, 16, 12, StandardCharsets.US_ASCII));
        int entryCount = le(c).getShort(34);
        assertEquals(vcpus + 19, entryCount);
        assertEquals(0xfee0_0000, le(c).getInt(36));

        // Walk the entries: processor entries are 20 bytes, all others 8 (Table 4-3).
        List<byte[]> processors = new ArrayList<>();
        List<byte[]> buses = new ArrayList<>();
        List<byte[]> ioApics = new ArrayList<>();
        List<byte[]> ioInts = new ArrayList<>();
        List<byte[]> localInts = new ArrayList<>();
        int at = 44;
        for (int i = 0; i < entryCount; i++) {
            int type = c[at];
            int len = type == 0 ? 20 : 8;
            byte[] e = Arrays.copyOfRange(c, at, at + len);
            switch (type) {
                case 0 -> processors.add(e);
                case 1 -> buses.add(e);
                case 2 -> ioApics.add(e);
                case 3 -> ioInts.add(e);
                case 4 -> localInts.add(e);
                default -> throw new AssertionError("entry type " + type);
            }
            at += len;
        }
        assertEquals(c.length, at, "entries fill the table exactly");

        assertEquals(vcpus, processors.size());
        for (int i = 0; i < vcpus; i++) {
            byte[] p = processors.get(i);
            assertEquals(i, p[1] & 0xff, "local APIC id");
            assertEquals(i == 0 ? 3 : 1, p[3], "EN, and BP only for vCPU 0");
        }
        assertEquals(1, buses.size());
        assertEquals("ISA   ", new String(buses.get(0), 2, 6, StandardCharsets.US_ASCII));
        assertEquals(1, ioApics.size());
        assertEquals(IOAPIC_ID, ioApics.get(0)[1]);
        assertEquals(1, ioApics.get(0)[3], "enabled");
        assertEquals(0xfec0_0000, le(ioApics.get(0)).getInt(4));

        assertEquals(15, ioInts.size());
        for (byte[] e : ioInts) {
            int srcIrq = e[5];
            int pin = e[7];
            assertEquals(0, e[1], "INT");
            assertEquals(IOAPIC_ID, e[6]);
            assertTrue(srcIrq != 2, "no entry for the 8259 cascade");
            assertEquals(srcIrq == 0 ? 2 : srcIrq, pin, "IRQ" + srcIrq + " pin");
        }
        assertEquals(2, localInts.size());
        assertEquals(3, localInts.get(0)[1], "ExtINT");
        assertEquals(0, localInts.get(0)[7], "to LINT0");
        assertEquals(1, localInts.get(1)[1], "NMI");
        assertEquals(1, localInts.get(1)[7], "to LINT1");
        for (byte[] e : localInts) {
            assertEquals(0xff, e[6] & 0xff, "every local APIC");
        }
    }

    @Test
    void addressMustBeAlignedAndBelow4GiB() {
        assertThrows(MpTableException.class,
                () -> MpTable.build(config(1), GuestAddress.of(0x9fc08)));
        // 232 bytes for one vCPU: from 0xFFFFFF80 they would cross 4 GiB; from 0xFFFFFF00 not.
        assertThrows(MpTableException.class,
                () -> MpTable.build(config(1), GuestAddress.of(0xffff_ff80L)));
        assertEquals(232, MpTable.build(config(1), GuestAddress.of(0xffff_ff00L)).length);
    }

    @Test
    void invalidConfigsAreRejected() {
        assertThrows(MpTableException.class, () -> config(0));
        assertThrows(MpTableException.class, () -> config(256));
        assertThrows(MpTableException.class,
                () -> new MpConfig(1, 0xfee0_0000L, 0, 0xfec0_0000L, "NINECHARS", "X"));
    }
}
