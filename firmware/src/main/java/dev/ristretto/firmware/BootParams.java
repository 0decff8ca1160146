package dev.ristretto.firmware;

import dev.ristretto.vmm.memory.GuestAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Builds the zero page (struct boot_params, 4 KiB) for the 64-bit boot protocol. Offsets are from
 * Linux Documentation/arch/x86/zero-page.rst and boot.rst ("THE REAL-MODE KERNEL HEADER"); the
 * 64-bit protocol says to start from an all-zero page, copy the image's setup header into it at
 * 0x1f1, then fill in the loader's fields. A builder: set what applies, then {@link #toBytes()}.
 */
public final class BootParams {
    public static final int SIZE = 4096;

    // zero-page.rst
    static final int ACPI_RSDP_ADDR = 0x070;
    static final int EXT_RAMDISK_IMAGE = 0x0c0;
    static final int EXT_RAMDISK_SIZE = 0x0c4;
    static final int EXT_CMD_LINE_PTR = 0x0c8;
    static final int E820_ENTRIES = 0x1e8;
    static final int E820_TABLE = 0x2d0;
    /** E820_MAX_ENTRIES_ZEROPAGE (arch/x86/include/uapi/asm/bootparam.h): the table holds 128. */
    public static final int E820_MAX_ENTRIES = 128;

    // boot.rst setup header fields the loader writes
    static final int VID_MODE = 0x1fa;
    static final int TYPE_OF_LOADER = 0x210;
    static final int LOADFLAGS = 0x211;
    static final int RAMDISK_IMAGE = 0x218;
    static final int RAMDISK_SIZE = 0x21c;
    static final int HEAP_END_PTR = 0x224;
    static final int CMD_LINE_PTR = 0x228;
    static final int SETUP_DATA = 0x250;

    /** type_of_loader 0xff: "undefined" — a loader with no assigned ID (boot.rst, type_of_loader). */
    static final int LOADER_UNDEFINED = 0xff;
    /** loadflags bit 7, CAN_USE_HEAP: heap_end_ptr is valid. */
    static final int CAN_USE_HEAP = 0x80;
    /** vid_mode 0xffff: "normal" VGA text mode, no mode prompt (boot.rst, "SPECIAL COMMAND LINE OPTIONS"). */
    static final int VID_MODE_NORMAL = 0xffff;
    /**
     * heap_end_ptr: boot.rst's sample layout for protocol 2.02+ puts the end of the real-mode
     * setup heap at 0xe000 (offset from the real-mode code) and stores it minus 0x200. With the
     * 64-bit entry the real-mode setup never runs; the value only has to be the sane one a
     * 16-bit loader would give.
     */
    static final int HEAP_END = 0xe000 - 0x200;

    private final byte[] setupHeader;
    private long cmdlinePtr;
    private long ramdiskImage;
    private long ramdiskSize;
    private long acpiRsdp;
    private List<E820Entry> e820 = List.of();

    private BootParams(byte[] setupHeader) {
        this.setupHeader = setupHeader;
    }

    // Setup header fields a header-less (ELF vmlinux) boot fills in itself; boot.rst offsets.
    static final int BOOT_FLAG = 0x1fe;
    static final int HEADER = 0x202;
    static final int VERSION = 0x206;
    static final int KERNEL_ALIGNMENT = 0x230;
    static final int CMDLINE_SIZE = 0x238;

    /**
     * The boot protocol version a header-less boot announces: 2.15, the newest whose fields we
     * know, and what the bzImages we target carry. A non-zero version matters: Linux's
     * x86_64_start_reservations takes version 0 to mean boot_params was never copied, and
     * parse_setup_data ignores setup_data below 2.09 (arch/x86/kernel/head64.c, setup.c).
     */
    public static final int HEADERLESS_PROTOCOL = 0x020f;

    /**
     * kernel_alignment for a header-less boot: 16 MiB, Linux's default CONFIG_PHYSICAL_ALIGN
     * maximum and what Firecracker reports for a vmlinux. The loaded kernel does not use it; it
     * only has to be a sane non-zero power of two for tools that read boot_params back (kexec).
     */
    static final int HEADERLESS_KERNEL_ALIGNMENT = 0x100_0000;

    /** A zero page carrying {@code image}'s setup header. */
    public static BootParams forImage(BzImage image) {
        return new BootParams(image.setupHeader());
    }

    /**
     * A zero page for a kernel that brings no setup header (an ELF vmlinux entered at its 64-bit
     * entry point, as Firecracker boots one): boot.rst's 64-bit protocol still expects a setup
     * header in boot_params, so we write the fields the kernel reads as a bzImage's header would
     * carry them — boot_flag 0xAA55, the "HdrS" magic, the protocol version, kernel_alignment and
     * cmdline_size — and the loader's own fields as for any boot ({@link #toBytes()}).
     *
     * @param cmdlineSize the longest command line the kernel takes, without its NUL
     */
    public static BootParams forHeaderlessKernel(long cmdlineSize) {
        if (cmdlineSize < 0 || cmdlineSize > 0xffff_ffffL) {
            throw new IllegalArgumentException("cmdline_size " + cmdlineSize + " does not fit 32 bits");
        }
        ByteBuffer h = ByteBuffer.allocate(BzImage.SETUP_HEADER_LIMIT - BzImage.SETUP_HEADER_START)
                .order(ByteOrder.LITTLE_ENDIAN);
        int base = BzImage.SETUP_HEADER_START;
        h.putShort(BOOT_FLAG - base, (short) BzImage.BOOT_FLAG_VALUE);
        h.putInt(HEADER - base, BzImage.HDRS_MAGIC);
        h.putShort(VERSION - base, (short) HEADERLESS_PROTOCOL);
        h.putInt(KERNEL_ALIGNMENT - base, HEADERLESS_KERNEL_ALIGNMENT);
        h.putInt(CMDLINE_SIZE - base, (int) cmdlineSize);
        return new BootParams(h.array());
    }

    /** cmd_line_ptr (+ ext_cmd_line_ptr for the high 32 bits). */
    public BootParams cmdline(GuestAddress address) {
        cmdlinePtr = address.value();
        return this;
    }

    /** ramdisk_image/ramdisk_size (+ their ext_ fields for the high 32 bits). */
    public BootParams ramdisk(GuestAddress address, long size) {
        if (size < 0) {
            throw new IllegalArgumentException("negative ramdisk size " + size);
        }
        ramdiskImage = address.value();
        ramdiskSize = size;
        return this;
    }

    /** acpi_rsdp_addr: tells the kernel where the RSDP is, so it need not scan for it. */
    public BootParams acpiRsdpAddr(GuestAddress address) {
        acpiRsdp = address.value();
        return this;
    }

    /** The e820 table; at most {@link #E820_MAX_ENTRIES} entries. */
    public BootParams e820(List<E820Entry> entries) {
        if (entries.size() > E820_MAX_ENTRIES) {
            throw new IllegalArgumentException("e820 map has " + entries.size() + " entries; the zero page holds "
                    + E820_MAX_ENTRIES);
        }
        e820 = List.copyOf(entries);
        return this;
    }

    /** The 4 KiB zero page. */
    public byte[] toBytes() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(BzImage.SETUP_HEADER_START, setupHeader);

        b.putShort(VID_MODE, (short) VID_MODE_NORMAL);
        b.put(TYPE_OF_LOADER, (byte) LOADER_UNDEFINED);
        b.put(LOADFLAGS, (byte) (Byte.toUnsignedInt(b.get(LOADFLAGS)) | CAN_USE_HEAP));
        b.putShort(HEAP_END_PTR, (short) HEAP_END);
        // We pass no setup_data list; a header value copied from the file must not be taken for one.
        b.putLong(SETUP_DATA, 0);

        b.putInt(CMD_LINE_PTR, (int) cmdlinePtr);
        b.putInt(EXT_CMD_LINE_PTR, (int) (cmdlinePtr >>> 32));
        b.putInt(RAMDISK_IMAGE, (int) ramdiskImage);
        b.putInt(EXT_RAMDISK_IMAGE, (int) (ramdiskImage >>> 32));
        b.putInt(RAMDISK_SIZE, (int) ramdiskSize);
        b.putInt(EXT_RAMDISK_SIZE, (int) (ramdiskSize >>> 32));
        b.putLong(ACPI_RSDP_ADDR, acpiRsdp);

        b.put(E820_ENTRIES, (byte) e820.size());
        int at = E820_TABLE;
        for (E820Entry e : e820) {
            b.putLong(at, e.start().value());
            b.putLong(at + 8, e.size());
            b.putInt(at + 16, e.type().code());
            at += E820Entry.BYTES;
        }
        return b.array();
    }

    @Override
    public String toString() {
        return "BootParams[cmdline=0x" + Long.toHexString(cmdlinePtr) + ", ramdisk=0x" + Long.toHexString(ramdiskImage)
                + "+0x" + Long.toHexString(ramdiskSize) + ", e820=" + e820.size() + " entries]";
    }
}
