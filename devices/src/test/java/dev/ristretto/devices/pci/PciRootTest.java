package dev.ristretto.devices.pci;

import static dev.ristretto.devices.pci.LittleEndian.le;
import static dev.ristretto.devices.pci.LittleEndian.val;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ristretto.vmm.device.Bus;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class PciRootTest {

    private static final long ECAM_BASE = 0xe000_0000L;
    private static final long MMIO_BASE = 0xc000_0000L;

    /** A function with one 4 KiB memory BAR and one I/O BAR that records what reaches them. */
    static final class Recorder extends PciFunction {
        final List<String> accesses = new ArrayList<>();

        Recorder() {
            super("recorder", new PciConfigSpace(0x1234, 0x5678, 0, 0xff0000, 0, 0, 0));
            config.addBar(new PciBar(0, PciBar.Kind.MEMORY32, 0x1000, false));
            config.addBar(new PciBar(2, PciBar.Kind.IO, 0x10, false));
        }

        @Override
        public void readBar(int bar, long offset, byte[] data) {
            accesses.add("r" + bar + "@" + Long.toHexString(offset) + "/" + data.length);
            java.util.Arrays.fill(data, (byte) (0x40 + bar));
        }

        @Override
        public void writeBar(int bar, long offset, byte[] data) {
            accesses.add("w" + bar + "@" + Long.toHexString(offset) + "=" + (data[0] & 0xff));
        }
    }

    private PciRoot root;
    private Recorder dev;
    private Bus io;
    private Bus mmio;

    @BeforeEach
    void setUp() {
        root = new PciRoot(new PciHostBridge());
        dev = new Recorder();
        assertEquals(new PciAddress(0, 1, 0), root.add(dev));
        dev.setBarAddress(0, MMIO_BASE + 0x3000);
        dev.setBarAddress(2, 0x1000);
        io = Bus.builder("io")
                .insert(PciRoot.CONFIG_ADDRESS_PORT, 4, "pci-address", root.configAddressPort())
                .insert(PciRoot.CONFIG_DATA_PORT, 4, "pci-data", root.configDataPort())
                .insert(0x1000, 0x1000, "pci-io", root.ioWindow(0x1000))
                .build();
        mmio = Bus.builder("mmio")
                .insert(ECAM_BASE, PciRoot.ECAM_BUS_SIZE, "ecam", root.ecam(1))
                .insert(MMIO_BASE, 0x1000_0000L, "pci-mmio", root.memoryWindow(MMIO_BASE))
                .build();
    }

    private long in(long port, int size) {
        byte[] b = new byte[size];
        io.read(port, b);
        return val(b);
    }

    private void out(long port, long value, int size) {
        io.write(port, le(value, size));
    }

    private static int cf8(int bus, int device, int function, int reg) {
        return 0x8000_0000 | bus << 16 | device << 11 | function << 8 | reg;
    }

    @Test
    void mechanismOneReadsTheSelectedFunction() {
        out(0xcf8, cf8(0, 0, 0, 0), 4);
        assertEquals(0x0008_1b36L, in(0xcfc, 4), "host bridge at 00:00.0");
        out(0xcf8, cf8(0, 1, 0, 0), 4);
        assertEquals(0x5678_1234L, in(0xcfc, 4));
        out(0xcf8, cf8(0, 1, 0, 8), 4);
        assertEquals(0xff, in(0xcff, 1), "byte lane 3 of dword 8 is the base class");
        assertEquals(0xff00, in(0xcfe, 2), "word lane 2");
    }

    @Test
    void mechanismOneNeedsTheEnableBitAndADwordAddressWrite() {
        out(0xcf8, cf8(0, 1, 0, 0) & 0x7fff_ffff, 4);
        assertEquals(0xffff_ffffL, in(0xcfc, 4), "enable clear: no configuration cycle");
        out(0xcf8, cf8(0, 1, 0, 0), 4);
        assertEquals(cf8(0, 1, 0, 0) & 0xffff_ffffL, in(0xcf8, 4), "the address register reads back");
        out(0xcf9, 0x06, 1); // a chipset reset-control byte write does not touch the address
        out(0xcf8, 0x12, 2);
        assertEquals(cf8(0, 1, 0, 0) & 0xffff_ffffL, in(0xcf8, 4));
        assertEquals(0xffL, in(0xcf8, 1), "non-dword reads of 0xCF8 find nothing");
        out(0xcf8, 0x7f00_0003 | 0x8000_0000, 4);
        assertEquals(0x8000_0000L, in(0xcf8, 4), "reserved bits 30:24 and 1:0 read 0");
    }

    @Test
    void mechanismOneWritesThroughTheMasks() {
        out(0xcf8, cf8(0, 1, 0, 4), 4);
        out(0xcfc, 0xffff, 2);
        assertEquals(PciConfigSpace.COMMAND_WRITABLE, in(0xcfc, 2));
        out(0xcf8, cf8(0, 1, 0, 0x10), 4);
        out(0xcfc, 0xffff_ffffL, 4);
        assertEquals(0xffff_f000L, in(0xcfc, 4), "BAR sizing through the ports");
    }

    @Test
    void absentFunctionsReadAllOnesAndIgnoreWrites() {
        for (int[] bdf : new int[][] {{0, 2, 0}, {0, 1, 1}, {1, 0, 0}, {0, 31, 7}}) {
            out(0xcf8, cf8(bdf[0], bdf[1], bdf[2], 0), 4);
            assertEquals(0xffff_ffffL, in(0xcfc, 4), "bdf " + bdf[0] + ":" + bdf[1] + "." + bdf[2]);
            out(0xcfc, 0, 4);
        }
    }

    private long ecam(int bus, int device, int function, int reg, int size) {
        byte[] b = new byte[size];
        mmio.read(ECAM_BASE + ((long) bus << 20 | device << 15 | function << 12 | reg), b);
        return val(b);
    }

    @Test
    void ecamDecodesBusDeviceFunctionRegister() {
        assertEquals(0x0008_1b36L, ecam(0, 0, 0, 0, 4));
        assertEquals(0x5678L, ecam(0, 1, 0, 2, 2));
        assertEquals(0xffff_ffffL, ecam(0, 1, 3, 0, 4), "function 3 absent");
        assertEquals(0xffff_ffffL, ecam(0, 9, 0, 0, 4), "device 9 absent");
        assertEquals(0L, ecam(0, 1, 0, 0x100, 4), "no extended capabilities");
        assertEquals(0xffffL, ecam(0, 1, 0, 3, 2), "a read that crosses a dword is refused");
        mmio.write(ECAM_BASE + (1 << 15) + 4, le(PciConfigSpace.COMMAND_MEMORY_SPACE, 2));
        assertEquals(PciConfigSpace.COMMAND_MEMORY_SPACE, ecam(0, 1, 0, 4, 2));
    }

    @Test
    void barWindowsRouteOnlyToEnabledBars() {
        byte[] b = new byte[4];
        assertEquals(false, mmio.read(0, b));
        mmio.read(MMIO_BASE + 0x3010, b);
        assertEquals(0xffff_ffffL, val(b), "memory decoding is off after reset");
        assertEquals(List.of(), dev.accesses);

        dev.writeConfig(PciConfigSpace.COMMAND, le(PciConfigSpace.COMMAND_MEMORY_SPACE, 2));
        mmio.read(MMIO_BASE + 0x3010, b);
        assertEquals(0x4040_4040L, val(b));
        mmio.write(MMIO_BASE + 0x3ffc, le(7, 4));
        io.read(0x1004, new byte[1]);
        assertEquals(List.of("r0@10/4", "w0@ffc=7"), dev.accesses, "I/O decoding is still off");

        dev.writeConfig(PciConfigSpace.COMMAND, le(PciConfigSpace.COMMAND_IO_SPACE, 2));
        io.write(0x1004, le(9, 1));
        assertEquals("w2@4=9", dev.accesses.get(2));

        // The guest moves the BAR; the window follows.
        dev.writeConfig(PciConfigSpace.COMMAND, le(PciConfigSpace.COMMAND_MEMORY_SPACE, 2));
        dev.writeConfig(0x10, le(MMIO_BASE + 0x8000, 4));
        mmio.read(MMIO_BASE + 0x8000, b);
        assertEquals("r0@0/4", dev.accesses.get(3));
        long before = root.unclaimedBarAccesses();
        mmio.read(MMIO_BASE + 0x3010, b);
        assertEquals(before + 1, root.unclaimedBarAccesses());
        mmio.read(MMIO_BASE + 0x8ffe, b);
        assertEquals(0xffff_ffffL, val(b), "an access running off the end of the BAR is not claimed");
    }

    @Test
    void slotsRunOut() {
        for (int i = 2; i < 32; i++) {
            root.add(new Recorder());
        }
        PciResourceException e = assertThrows(PciResourceException.class, () -> root.add(new Recorder()));
        assertEquals("PCI bus 0 has no free slot for recorder; at most 31 devices fit beside the host bridge",
                e.getMessage());
    }

    @Test
    void allocatorAlignsAndRefusesOverflow() {
        PciBarAllocator alloc = new PciBarAllocator(
                new PciBarAllocator.Window("mmio32", 0xc000_1000L, 0x10_0000),
                new PciBarAllocator.Window("mmio64", 0x1_0000_0000L, 0x1_0000_0000L),
                new PciBarAllocator.Window("io", 0x1000, 0x100));
        assertEquals(0xc000_4000L, alloc.allocate("a", new PciBar(0, PciBar.Kind.MEMORY32, 0x4000, false)));
        assertEquals(0xc000_8000L, alloc.allocate("a", new PciBar(1, PciBar.Kind.MEMORY32, 0x10, false)));
        assertEquals(0xc000_8010L, alloc.allocate("a", new PciBar(2, PciBar.Kind.MEMORY32, 0x10, false)));
        assertEquals(0x1_0000_0000L, alloc.allocate("b", new PciBar(0, PciBar.Kind.MEMORY64, 0x8000, true)));
        assertEquals(0x1000L, alloc.allocate("c", new PciBar(4, PciBar.Kind.IO, 0x20, false)));
        assertEquals(0x1080L, alloc.allocate("c", new PciBar(5, PciBar.Kind.IO, 0x80, false)));
        PciResourceException e = assertThrows(PciResourceException.class,
                () -> alloc.allocate("d", new PciBar(0, PciBar.Kind.MEMORY32, 0x10_0000, false)));
        assertEquals("d: BAR 0 (0x100000 bytes) does not fit in the PCI window mmio32 at 0xc0001000+0x100000; "
                + "use fewer devices or a larger window", e.getMessage());

        Recorder r = new Recorder();
        PciBarAllocator small = new PciBarAllocator(new PciBarAllocator.Window("mmio32", 0xd000_0000L, 0x2000), null,
                new PciBarAllocator.Window("io", 0x2000, 0x100));
        small.assign(r);
        r.writeConfig(PciConfigSpace.COMMAND, le(3, 2));
        assertEquals(0xd000_0000L, r.barAddress(0));
        assertEquals(0x2000L, r.barAddress(2));
        assertEquals(0xd000_1000L, small.allocate("e", new PciBar(0, PciBar.Kind.MEMORY64, 0x1000, false)),
                "no 64-bit window: 64-bit BARs share the 32-bit one");
    }
}
