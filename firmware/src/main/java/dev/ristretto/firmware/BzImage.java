package dev.ristretto.firmware;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

/**
 * A validated Linux x86 bzImage: the real-mode setup (whose header we copy into the zero page)
 * followed by the protected-mode payload we load into guest RAM. All offsets and field meanings
 * are from Linux Documentation/arch/x86/boot.rst, "THE REAL-MODE KERNEL HEADER".
 *
 * <p>Ristretto enters the kernel through the 64-bit boot protocol only (boot.rst "64-bit BOOT
 * PROTOCOL"), so it needs a kernel that announces a 64-bit entry point: XLF_KERNEL_64 in
 * xloadflags. xloadflags exists from boot protocol 2.12 on, and a header older than that cannot
 * tell us whether the 64-bit entry is there; 2.12 is therefore our minimum (Linux 3.8, 2013).
 * It also guarantees every other field we read (cmdline_size 2.06, relocatable_kernel and
 * kernel_alignment 2.05, pref_address and init_size 2.10).
 */
public final class BzImage {
    // Setup header offsets in the image file (boot.rst, "THE REAL-MODE KERNEL HEADER").
    static final int SETUP_SECTS = 0x1f1;
    static final int SYSSIZE = 0x1f4;
    static final int BOOT_FLAG = 0x1fe;
    static final int HEADER_LENGTH_BYTE = 0x201;
    static final int HEADER_MAGIC = 0x202;
    static final int VERSION = 0x206;
    static final int LOADFLAGS = 0x211;
    static final int INITRD_ADDR_MAX = 0x22c;
    static final int KERNEL_ALIGNMENT = 0x230;
    static final int RELOCATABLE_KERNEL = 0x234;
    static final int MIN_ALIGNMENT = 0x235;
    static final int XLOADFLAGS = 0x236;
    static final int CMDLINE_SIZE = 0x238;
    static final int PREF_ADDRESS = 0x258;
    static final int INIT_SIZE = 0x260;

    /** The setup header starts here in both the image and the zero page. */
    public static final int SETUP_HEADER_START = SETUP_SECTS;

    /**
     * The zero page's setup header area ends here (struct boot_params: edd_mbr_sig_buffer follows
     * at 0x290), so a header claiming to extend past it cannot be copied.
     */
    static final int SETUP_HEADER_LIMIT = 0x290;

    /** The header must reach at least past init_size (0x260..0x263), a 2.10 field. */
    static final int SETUP_HEADER_MIN_END = INIT_SIZE + 4;

    static final int BOOT_FLAG_VALUE = 0xaa55;
    /** "HdrS" read as a little-endian u32. */
    static final int HDRS_MAGIC = 0x53726448;

    /** loadflags bit 0: the protected-mode code is loaded at 0x100000 (a bzImage, not a zImage). */
    public static final int LOADED_HIGH = 0x01;
    /** xloadflags bit 0: the kernel has the legacy 64-bit entry point at load address + 0x200. */
    public static final int XLF_KERNEL_64 = 0x01;
    /** xloadflags bit 1: kernel, boot_params, cmdline and ramdisk may lie above 4 GiB. */
    public static final int XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;

    /** Oldest boot protocol we accept (see the class comment): 2.12. */
    public static final int MIN_PROTOCOL = 0x020c;

    /**
     * Largest setup_sects Linux's own build tool produces (arch/x86/boot/tools/build.c,
     * SETUP_SECT_MAX = 64): the real-mode code must fit its 32 KiB budget. Anything larger is a
     * corrupt header.
     */
    static final int SETUP_SECTS_MAX = 64;

    private final String name;
    private final byte[] data;
    private final int setupSects;
    private final int protocol;
    private final int headerEnd;
    private final int loadflags;
    private final int xloadflags;
    private final boolean relocatable;
    private final long kernelAlignment;
    private final int minAlignmentLog2;
    private final long prefAddress;
    private final long initSize;
    private final long cmdlineSize;
    private final long initrdAddrMax;
    private final int payloadOffset;
    private final long payloadLength;

    private BzImage(String name, byte[] data) {
        this.name = name;
        this.data = data;
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);

        if (data.length >= 4 && data[0] == 0x7f && data[1] == 'E' && data[2] == 'L' && data[3] == 'F') {
            throw fail("is an ELF vmlinux, not a bzImage; boot it through the ELF loader (KernelFile detects"
                    + " both formats), or pass arch/x86/boot/bzImage or /boot/vmlinuz-* instead");
        }
        if (data.length < SETUP_HEADER_MIN_END) {
            throw fail("not a bzImage (the file is only " + data.length + " bytes, too short for a setup header)");
        }
        if (b.getInt(HEADER_MAGIC) != HDRS_MAGIC) {
            throw fail("not a bzImage (no HdrS magic at 0x202)");
        }
        int bootFlag = Short.toUnsignedInt(b.getShort(BOOT_FLAG));
        if (bootFlag != BOOT_FLAG_VALUE) {
            throw fail("not a valid bzImage (boot flag at 0x1FE is 0x" + Integer.toHexString(bootFlag)
                    + ", expected 0xAA55); the file is damaged");
        }
        protocol = Short.toUnsignedInt(b.getShort(VERSION));
        if (protocol < MIN_PROTOCOL) {
            throw fail("boot protocol " + protocolString(protocol) + " is too old (Ristretto needs "
                    + protocolString(MIN_PROTOCOL) + " or newer, Linux 3.8+, for the 64-bit entry point);"
                    + " use a newer kernel");
        }
        headerEnd = HEADER_MAGIC + Byte.toUnsignedInt(data[HEADER_LENGTH_BYTE]);
        if (headerEnd < SETUP_HEADER_MIN_END || headerEnd > SETUP_HEADER_LIMIT) {
            throw fail("setup header claims to end at 0x" + Integer.toHexString(headerEnd) + " (byte at 0x201), outside 0x"
                    + Integer.toHexString(SETUP_HEADER_MIN_END) + "..0x" + Integer.toHexString(SETUP_HEADER_LIMIT)
                    + " for boot protocol " + protocolString(protocol) + "; the file is damaged");
        }
        int sects = Byte.toUnsignedInt(data[SETUP_SECTS]);
        if (sects == 0) {
            sects = 4; // boot.rst, setup_sects: "If this field is 0, the real value is 4."
        }
        if (sects > SETUP_SECTS_MAX) {
            throw fail("setup_sects is " + sects + ", which is absurd (Linux builds at most " + SETUP_SECTS_MAX
                    + "); the file is damaged");
        }
        setupSects = sects;
        loadflags = Byte.toUnsignedInt(data[LOADFLAGS]);
        if ((loadflags & LOADED_HIGH) == 0) {
            throw fail("is a zImage (LOADED_HIGH clear in loadflags); Ristretto boots only bzImages loaded at 1 MiB or above");
        }
        xloadflags = Short.toUnsignedInt(b.getShort(XLOADFLAGS));
        if ((xloadflags & XLF_KERNEL_64) == 0) {
            throw fail("has no 64-bit entry point (XLF_KERNEL_64 clear in xloadflags); it is a 32-bit kernel,"
                    + " and Ristretto boots only x86-64 kernels");
        }

        // boot.rst, setup_sects: the real-mode code is (setup_sects + 1) 512-byte sectors (the
        // boot sector included); the protected-mode payload starts right after it and is
        // syssize 16-byte paragraphs long (a full 32-bit field from protocol 2.04 on).
        payloadOffset = (setupSects + 1) * 512;
        payloadLength = Integer.toUnsignedLong(b.getInt(SYSSIZE)) * 16;
        if (payloadLength == 0) {
            throw fail("has an empty protected-mode payload (syssize at 0x1F4 is 0); the file is damaged");
        }
        if (data.length < payloadOffset + payloadLength) {
            throw fail("is truncated: the header announces " + (payloadOffset + payloadLength)
                    + " bytes of setup and payload but the file has only " + data.length);
        }

        relocatable = data[RELOCATABLE_KERNEL] != 0;
        kernelAlignment = Integer.toUnsignedLong(b.getInt(KERNEL_ALIGNMENT));
        minAlignmentLog2 = Byte.toUnsignedInt(data[MIN_ALIGNMENT]);
        if (relocatable && (Long.bitCount(kernelAlignment) != 1 || kernelAlignment < Layout.PAGE_SIZE)) {
            throw fail("kernel_alignment 0x" + Long.toHexString(kernelAlignment)
                    + " is not a power of two of at least 4 KiB; the file is damaged");
        }
        prefAddress = b.getLong(PREF_ADDRESS);
        initSize = Integer.toUnsignedLong(b.getInt(INIT_SIZE));
        if (initSize < payloadLength) {
            throw fail("init_size 0x" + Long.toHexString(initSize) + " is smaller than the payload it must hold (0x"
                    + Long.toHexString(payloadLength) + " bytes); the file is damaged");
        }
        cmdlineSize = Integer.toUnsignedLong(b.getInt(CMDLINE_SIZE));
        initrdAddrMax = Integer.toUnsignedLong(b.getInt(INITRD_ADDR_MAX));
    }

    /**
     * Reads and validates the bzImage at {@code path}.
     *
     * @throws KernelImageException when the file cannot be read or is not a bootable bzImage
     */
    public static BzImage load(Path path) {
        Objects.requireNonNull(path);
        byte[] bytes;
        try {
            long size = Files.size(path);
            if (size > Integer.MAX_VALUE - 8) {
                throw new KernelImageException("kernel " + path + ": file is " + size + " bytes, far too large for a bzImage");
            }
            bytes = Files.readAllBytes(path);
        } catch (IOException e) {
            throw new KernelImageException("kernel " + path + ": cannot be read (" + e + ")", e);
        }
        return new BzImage(path.toString(), bytes);
    }

    /**
     * Validates {@code bytes} as a bzImage; {@code name} is used in error messages (a path or a
     * description). The array is not copied: the caller must not change it afterwards.
     *
     * @throws KernelImageException when the bytes are not a bootable bzImage
     */
    public static BzImage parse(String name, byte[] bytes) {
        return new BzImage(Objects.requireNonNull(name), Objects.requireNonNull(bytes));
    }

    /** True when {@code bytes} carry the "HdrS" setup header magic at 0x202 (boot.rst). */
    public static boolean hasSetupHeaderMagic(byte[] bytes) {
        return bytes.length >= HEADER_MAGIC + 4
                && ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getInt(HEADER_MAGIC) == HDRS_MAGIC;
    }

    private KernelImageException fail(String what) {
        return new KernelImageException("kernel " + name + ": " + what);
    }

    static String protocolString(int version) {
        return (version >>> 8) + "." + String.format("%02d", version & 0xff);
    }

    /** The file name or description given when the image was loaded. */
    public String name() {
        return name;
    }

    /** Boot protocol version as major &lt;&lt; 8 | minor (0x020f for 2.15). */
    public int protocol() {
        return protocol;
    }

    /** Boot protocol version as text, e.g. "2.15". */
    public String protocolVersion() {
        return protocolString(protocol);
    }

    /** Number of 512-byte setup sectors after the boot sector (0 in the file already mapped to 4). */
    public int setupSects() {
        return setupSects;
    }

    public int loadflags() {
        return loadflags;
    }

    public int xloadflags() {
        return xloadflags;
    }

    /** relocatable_kernel: the payload may be loaded at any kernel_alignment-aligned address. */
    public boolean relocatable() {
        return relocatable;
    }

    /** kernel_alignment: the alignment a relocatable kernel must be loaded at. */
    public long kernelAlignment() {
        return kernelAlignment;
    }

    /** min_alignment as a power of two (the smallest alignment the kernel tolerates). */
    public int minAlignmentLog2() {
        return minAlignmentLog2;
    }

    /** pref_address: where the kernel would like to be loaded (and must be, when not relocatable). */
    public long prefAddress() {
        return prefAddress;
    }

    /** init_size: bytes of linear memory the kernel needs from its load address until it has started. */
    public long initSize() {
        return initSize;
    }

    /** cmdline_size: the longest command line the kernel takes, without its terminating NUL. */
    public long cmdlineSize() {
        return cmdlineSize;
    }

    /** initrd_addr_max: the highest address the initrd may occupy (its last byte, not its end). */
    public long initrdAddrMax() {
        return initrdAddrMax;
    }

    /** True when xloadflags says the initrd (and boot_params, cmdline) may lie above 4 GiB. */
    public boolean canLoadAbove4G() {
        return (xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G) != 0;
    }

    /** Offset in the file where the protected-mode payload starts. */
    public int payloadOffset() {
        return payloadOffset;
    }

    /** Length in bytes of the protected-mode payload (syssize * 16). */
    public long payloadLength() {
        return payloadLength;
    }

    /** Offset just past the setup header (0x202 + the byte at 0x201). */
    public int setupHeaderEnd() {
        return headerEnd;
    }

    /** A copy of the setup header, bytes 0x1f1 up to {@link #setupHeaderEnd()}. */
    public byte[] setupHeader() {
        return Arrays.copyOfRange(data, SETUP_HEADER_START, headerEnd);
    }

    /** Copies the protected-mode payload to the start of {@code target}, which must be large enough. */
    public void copyPayloadTo(MemorySegment target) {
        MemorySegment.copy(data, payloadOffset, target, ValueLayout.JAVA_BYTE, 0, Math.toIntExact(payloadLength));
    }

    @Override
    public String toString() {
        return "bzImage " + name + " (protocol " + protocolVersion() + ", init_size 0x" + Long.toHexString(initSize)
                + (relocatable ? ", relocatable" : "") + ")";
    }
}
