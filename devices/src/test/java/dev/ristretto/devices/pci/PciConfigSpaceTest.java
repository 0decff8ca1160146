package dev.ristretto.devices.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class PciConfigSpaceTest {

    private static PciConfigSpace space() {
        return new PciConfigSpace(0x1af4, 0x1044, 1, 0xff_00_00, 0x1af4, 0x40, 1);
    }

    private static int read(PciConfigSpace c, int offset, int size) {
        byte[] b = new byte[size];
        c.read(offset, b);
        int v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (b[i] & 0xff);
        }
        return v;
    }

    private static void write(PciConfigSpace c, int offset, int value, int size) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (value >>> (8 * i));
        }
        c.write(offset, b);
    }

    @Test
    void headerFieldsReadBackAtEveryWidth() {
        PciConfigSpace c = space();
        assertEquals(0x1044_1af4, read(c, 0, 4));
        assertEquals(0x1af4, read(c, 0, 2));
        assertEquals(0x10, read(c, 3, 1));
        assertEquals(0xff00_0001, read(c, 8, 4), "class ff/00/00, revision 1");
        assertEquals(0x0040_1af4, read(c, 0x2c, 4));
        assertEquals(0x01, read(c, 0x3d, 1), "INTA#");
        assertEquals(0, read(c, 0x0e, 1), "header type 0, single function");
        assertEquals(0, read(c, 0x100, 4), "past the end reads 0");
    }

    @Test
    void readOnlyFieldsIgnoreWrites() {
        PciConfigSpace c = space();
        write(c, 0, 0xffff_ffff, 4);
        write(c, 8, 0, 4);
        write(c, 0x2c, 0, 4);
        write(c, 0x3d, 4, 1);
        write(c, 0x30, 0xffff_ffff, 4);
        assertEquals(0x1044_1af4, read(c, 0, 4));
        assertEquals(0xff00_0001, read(c, 8, 4));
        assertEquals(0x0040_1af4, read(c, 0x2c, 4));
        assertEquals(1, read(c, 0x3d, 1));
        assertEquals(0, read(c, 0x30, 4), "no expansion ROM: sizing reads 0");
    }

    @Test
    void commandHasOnlyItsWritableBitsAndStatusErrorsAreWriteOneToClear() {
        PciConfigSpace c = space();
        write(c, PciConfigSpace.COMMAND, 0xffff, 2);
        assertEquals(PciConfigSpace.COMMAND_WRITABLE, read(c, PciConfigSpace.COMMAND, 2));
        // The device reports a received master abort (bit 13) and has a capability list.
        c.setStatusBits(1 << 13 | 1 << 8, true);
        c.setStatusBits(PciConfigSpace.STATUS_CAPABILITIES_LIST | PciConfigSpace.STATUS_INTERRUPT, true);
        write(c, PciConfigSpace.STATUS, 0, 2);
        assertEquals(1 << 13 | 1 << 8 | 0x18, read(c, PciConfigSpace.STATUS, 2), "writing 0 clears nothing");
        write(c, PciConfigSpace.STATUS, 1 << 13, 2);
        assertEquals(1 << 8 | 0x18, read(c, PciConfigSpace.STATUS, 2), "writing 1 clears just that bit");
        write(c, PciConfigSpace.STATUS, 0xffff, 2);
        assertEquals(0x18, read(c, PciConfigSpace.STATUS, 2), "read-only status bits survive");
        write(c, PciConfigSpace.INTERRUPT_LINE, 11, 1);
        assertEquals(11, read(c, PciConfigSpace.INTERRUPT_LINE, 1), "interrupt line is scratch");
    }

    @Test
    void sizes32BitMemoryBar() {
        PciConfigSpace c = space();
        c.addBar(new PciBar(1, PciBar.Kind.MEMORY32, 0x4000, false));
        c.setBarAddress(1, 0xc000_4000L);
        assertEquals(0xc000_4000, read(c, 0x14, 4));
        write(c, 0x14, 0xffff_ffff, 4);
        assertEquals(0xffff_c000, read(c, 0x14, 4), "~(size-1), type 00b, not prefetchable");
        write(c, 0x14, 0xc100_0000, 4);
        assertEquals(0xc100_0000L, c.barAddress(1));
        write(c, 0x14, 0xc100_1234, 4);
        assertEquals(0xc100_0000L, c.barAddress(1), "bits below the size are not writable");
    }

    @Test
    void sizes64BitMemoryBarAsAPair() {
        PciConfigSpace c = space();
        c.addBar(new PciBar(0, PciBar.Kind.MEMORY64, 0x8000, true));
        c.setBarAddress(0, 0x1_0000_8000L);
        assertEquals(0x0000_800c, read(c, 0x10, 4), "type 10b, prefetchable");
        assertEquals(1, read(c, 0x14, 4));
        write(c, 0x10, 0xffff_ffff, 4);
        write(c, 0x14, 0xffff_ffff, 4);
        assertEquals(0xffff_800c, read(c, 0x10, 4));
        assertEquals(0xffff_ffff, read(c, 0x14, 4));
        long size = ~((Integer.toUnsignedLong(read(c, 0x14, 4)) << 32 | Integer.toUnsignedLong(read(c, 0x10, 4)))
                & ~0xfL) + 1;
        assertEquals(0x8000, size);
        write(c, 0x10, 0x2000_0000, 4);
        write(c, 0x14, 0x80, 4);
        assertEquals(0x80_2000_0000L, c.barAddress(0));
    }

    @Test
    void sizesLargeBarAbove4GiB() {
        PciConfigSpace c = space();
        c.addBar(new PciBar(2, PciBar.Kind.MEMORY64, 1L << 33, false));
        write(c, 0x18, 0xffff_ffff, 4);
        write(c, 0x1c, 0xffff_ffff, 4);
        assertEquals(0x4, read(c, 0x18, 4), "all low address bits are inside the 8 GiB size");
        assertEquals(0xffff_fffe, read(c, 0x1c, 4));
    }

    @Test
    void sizesIoBar() {
        PciConfigSpace c = space();
        c.addBar(new PciBar(4, PciBar.Kind.IO, 0x20, false));
        c.setBarAddress(4, 0x1020);
        assertEquals(0x1021, read(c, 0x20, 4));
        write(c, 0x20, 0xffff_ffff, 4);
        assertEquals(0xffe1, read(c, 0x20, 4), "16-bit decode, bit 0 says I/O");
        assertEquals(0xffe0L, c.barAddress(4));
    }

    @Test
    void undeclaredBarsReadZeroEvenAfterSizing() {
        PciConfigSpace c = space();
        write(c, 0x10, 0xffff_ffff, 4);
        assertEquals(0, read(c, 0x10, 4));
    }

    @Test
    void rejectsBadBars() {
        PciConfigSpace c = space();
        assertThrows(IllegalArgumentException.class, () -> new PciBar(5, PciBar.Kind.MEMORY64, 0x1000, false));
        assertThrows(IllegalArgumentException.class, () -> new PciBar(0, PciBar.Kind.MEMORY32, 0x1800, false));
        assertThrows(IllegalArgumentException.class, () -> new PciBar(0, PciBar.Kind.IO, 0x200, false));
        c.addBar(new PciBar(0, PciBar.Kind.MEMORY64, 0x1000, false));
        assertThrows(IllegalArgumentException.class, () -> c.addBar(new PciBar(1, PciBar.Kind.MEMORY32, 0x1000, false)));
        assertThrows(IllegalArgumentException.class, () -> c.setBarAddress(0, 0x1800));
    }

    @Test
    void capabilityListIsWalkableAndMasksApply() {
        PciConfigSpace c = space();
        int a = c.addCapability(0x09, new byte[] {14, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, null);
        int b = c.addCapability(0x11, new byte[10], new byte[] {0, (byte) 0xc0, 0, 0, 0, 0, 0, 0, 0, 0});
        int d = c.addCapability(0x05, new byte[1], null);
        assertEquals(PciConfigSpace.STATUS_CAPABILITIES_LIST,
                read(c, PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_CAPABILITIES_LIST);
        // Walk the list as Linux's pci_find_capability does.
        List<Integer> ids = new ArrayList<>();
        List<Integer> offsets = new ArrayList<>();
        int ptr = read(c, PciConfigSpace.CAPABILITIES_POINTER, 1);
        for (int ttl = 48; ptr != 0 && ttl > 0; ttl--) {
            assertEquals(0, ptr & 3, "dword aligned");
            offsets.add(ptr);
            ids.add(read(c, ptr, 1));
            ptr = read(c, ptr + 1, 1);
        }
        assertEquals(List.of(0x09, 0x11, 0x05), ids);
        assertEquals(List.of(a, b, d), offsets);
        assertEquals(0x40, a);
        assertEquals(0x50, b);
        write(c, b + 2, 0xffff, 2);
        assertEquals(0xc000, read(c, b + 2, 2), "only the masked bits took");
        write(c, a + 2, 0xffff, 2);
        assertEquals(0x010e, read(c, a + 2, 2), "unmasked capability bytes are read-only");
    }

    @Test
    void capabilitiesThatDoNotFitAreRefused() {
        PciConfigSpace c = space();
        c.addCapability(0x09, new byte[150], null);
        assertThrows(IllegalStateException.class, () -> c.addCapability(0x09, new byte[60], null));
    }
}
