package dev.ristretto.firmware;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Hand-made bzImages for tests: a well-formed header (protocol 2.15, relocatable, 64-bit entry)
 * that each test then damages in one specific way.
 */
final class TestKernels {
    private TestKernels() {
    }

    static final int SETUP_SECTS = 4;
    static final int PAYLOAD_OFFSET = (SETUP_SECTS + 1) * 512;
    static final int PAYLOAD_LENGTH = 0x1000;
    static final long PREF_ADDRESS = 0x100_0000L;
    static final long INIT_SIZE = 0x40_0000L; // 4 MiB
    static final long KERNEL_ALIGNMENT = 0x20_0000L;
    static final int CMDLINE_SIZE = 2047;
    static final long INITRD_ADDR_MAX = 0x7fff_ffffL;

    /** A valid image: setup, then a payload whose bytes are (i * 7) & 0xff so copies can be checked. */
    static ByteBuffer valid() {
        ByteBuffer b = ByteBuffer.allocate(PAYLOAD_OFFSET + PAYLOAD_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) SETUP_SECTS);
        b.putInt(0x1f4, PAYLOAD_LENGTH / 16);
        b.putShort(0x1fe, (short) 0xaa55);
        b.put(0x200, (byte) 0xeb);
        b.put(0x201, (byte) 0x6a); // header ends at 0x26c, as in Linux 6.x
        b.putInt(0x202, 0x53726448); // "HdrS"
        b.putShort(0x206, (short) 0x020f);
        b.putShort(0x20e, (short) 0x1234); // kernel_version: a value that must survive into the zero page
        b.put(0x211, (byte) BzImage.LOADED_HIGH);
        b.putInt(0x214, 0x100000);
        b.putInt(0x22c, (int) INITRD_ADDR_MAX);
        b.putInt(0x230, (int) KERNEL_ALIGNMENT);
        b.put(0x234, (byte) 1);
        b.put(0x235, (byte) 21);
        b.putShort(0x236, (short) (BzImage.XLF_KERNEL_64 | BzImage.XLF_CAN_BE_LOADED_ABOVE_4G));
        b.putInt(0x238, CMDLINE_SIZE);
        b.putLong(0x258, PREF_ADDRESS);
        b.putInt(0x260, (int) INIT_SIZE);
        for (int i = 0; i < PAYLOAD_LENGTH; i++) {
            b.put(PAYLOAD_OFFSET + i, (byte) (i * 7));
        }
        return b;
    }

    static BzImage parse(ByteBuffer b) {
        return BzImage.parse("test.bzImage", b.array());
    }

    static BzImage image() {
        return parse(valid());
    }
}
