package dev.ristretto.firmware;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ristretto.vmm.memory.GuestAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class BootParamsTest {

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void copiesTheSetupHeaderAndSetsLoaderFields() {
        ByteBuffer img = TestKernels.valid();
        img.putLong(0x250, 0xdead_beefL); // a stray setup_data pointer in the file must not survive
        BzImage k = TestKernels.parse(img);
        ByteBuffer zp = le(BootParams.forImage(k).toBytes());
        assertEquals(4096, zp.capacity());

        // Untouched header fields are copied verbatim from 0x1f1 up to 0x26c.
        assertEquals(4, zp.get(0x1f1));
        assertEquals((short) 0xaa55, zp.getShort(0x1fe));
        assertEquals(0x53726448, zp.getInt(0x202));
        assertEquals(0x020f, zp.getShort(0x206));
        assertEquals(0x1234, zp.getShort(0x20e));
        assertEquals((int) TestKernels.INIT_SIZE, zp.getInt(0x260));
        assertEquals(0, zp.getInt(0x26c)); // past the header: zero
        assertEquals(0, zp.get(0x1f0)); // before the header: zero

        assertEquals((short) 0xffff, zp.getShort(0x1fa)); // vid_mode normal
        assertEquals((byte) 0xff, zp.get(0x210)); // type_of_loader undefined
        assertEquals((byte) 0x81, zp.get(0x211)); // LOADED_HIGH | CAN_USE_HEAP
        assertEquals((short) 0xde00, zp.getShort(0x224)); // heap_end_ptr
        assertEquals(0, zp.getLong(0x250)); // setup_data
    }

    @Test
    void writesCmdlineRamdiskAndRsdpIncludingHighHalves() {
        ByteBuffer zp = le(BootParams.forImage(TestKernels.image())
                .cmdline(GuestAddress.of(0x1_2345_6000L))
                .ramdisk(GuestAddress.of(0x2_7000_0000L), 0x1_0000_1000L)
                .acpiRsdpAddr(GuestAddress.of(0xe0000))
                .toBytes());
        assertEquals(0x2345_6000, zp.getInt(0x228));
        assertEquals(1, zp.getInt(0x0c8));
        assertEquals(0x7000_0000, zp.getInt(0x218));
        assertEquals(2, zp.getInt(0x0c0));
        assertEquals(0x1000, zp.getInt(0x21c));
        assertEquals(1, zp.getInt(0x0c4));
        assertEquals(0xe0000L, zp.getLong(0x070));
    }

    @Test
    void writesTheE820TableAndCount() {
        List<E820Entry> map = MemoryLayout.forRam(6 * Layout.GIB).e820();
        ByteBuffer zp = le(BootParams.forImage(TestKernels.image()).e820(map).toBytes());
        assertEquals(4, zp.get(0x1e8));
        // entry i at 0x2d0 + 20 * i: addr u64, size u64, type u32
        assertEquals(0L, zp.getLong(0x2d0));
        assertEquals(0x9fc00L, zp.getLong(0x2d8));
        assertEquals(1, zp.getInt(0x2e0));
        assertEquals(0x9fc00L, zp.getLong(0x2e4));
        assertEquals(0x60400L, zp.getLong(0x2ec));
        assertEquals(2, zp.getInt(0x2f4));
        assertEquals(0x100000L, zp.getLong(0x2f8));
        assertEquals(0xbff0_0000L, zp.getLong(0x300));
        assertEquals(1, zp.getInt(0x308));
        assertEquals(0x1_0000_0000L, zp.getLong(0x30c));
        assertEquals(0xc000_0000L, zp.getLong(0x314));
        assertEquals(1, zp.getInt(0x31c));
        assertEquals(0L, zp.getLong(0x320)); // no fifth entry
    }

    @Test
    void holdsAtMost128E820Entries() {
        E820Entry one = new E820Entry(GuestAddress.of(0), 4096, E820Entry.Type.RAM);
        byte[] full = BootParams.forImage(TestKernels.image()).e820(Collections.nCopies(128, one)).toBytes();
        assertEquals((byte) 128, full[0x1e8]);
        assertThrows(IllegalArgumentException.class,
                () -> BootParams.forImage(TestKernels.image()).e820(Collections.nCopies(129, one)));
    }
}
