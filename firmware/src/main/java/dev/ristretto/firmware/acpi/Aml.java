package dev.ristretto.firmware.acpi;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * An encoder for the subset of ACPI Machine Language that a VMM's DSDT needs (ACPI 6.5 §20.2,
 * "AML Grammar Definition"). Every method returns the encoded bytes of one term; terms nest by
 * passing those bytes into the enclosing term ({@link #scope}, {@link #device}, {@link #method}).
 *
 * <p>Integers use the smallest encoding (§20.2.3): ZeroOp, OneOp, OnesOp, then Byte/Word/DWord/
 * QWord prefixes. OnesOp means all-ones at the width of the definition block: the DSDT we build is
 * revision 2, which selects 64-bit integers (§5.2.11.1), so only {@code -1L} encodes as OnesOp.
 */
public final class Aml {

    // Opcodes and prefixes, ACPI 6.5 §20.3 "AML Byte Stream Byte Values".
    static final int ZERO_OP = 0x00;
    static final int ONE_OP = 0x01;
    static final int NAME_OP = 0x08;
    static final int BYTE_PREFIX = 0x0a;
    static final int WORD_PREFIX = 0x0b;
    static final int DWORD_PREFIX = 0x0c;
    static final int STRING_PREFIX = 0x0d;
    static final int QWORD_PREFIX = 0x0e;
    static final int SCOPE_OP = 0x10;
    static final int BUFFER_OP = 0x11;
    static final int PACKAGE_OP = 0x12;
    static final int METHOD_OP = 0x14;
    static final int DUAL_NAME_PREFIX = 0x2e;
    static final int MULTI_NAME_PREFIX = 0x2f;
    static final int EXT_OP_PREFIX = 0x5b;
    static final int DEVICE_OP = 0x82; // after ExtOpPrefix
    static final int ROOT_CHAR = 0x5c;
    static final int PARENT_PREFIX_CHAR = 0x5e;
    static final int RETURN_OP = 0xa4;
    static final int ONES_OP = 0xff;

    /** The largest value a 4-byte PkgLength can carry: 28 bits (§20.2.4). */
    static final int MAX_PKG_LENGTH = 0x0fff_ffff;

    // §20.2.2: LeadNameChar := 'A'-'Z' | '_'; NameChar := DigitChar | LeadNameChar. ASL lets a
    // segment be shorter than four characters and pads it with '_', and so do we.
    private static final Pattern NAME_SEG = Pattern.compile("[A-Z_][A-Z0-9_]{0,3}");
    private static final Pattern EISA_ID = Pattern.compile("[A-Z]{3}[0-9A-F]{4}");

    private Aml() {
    }

    /** Concatenates terms into a TermList. */
    public static byte[] terms(byte[]... terms) {
        return Bytes.concat(terms);
    }

    // ---------------------------------------------------------------------------------- names

    /** One NameSeg (§20.2.2): four characters, padded with '_' when shorter. */
    public static byte[] nameSeg(String seg) {
        if (!NAME_SEG.matcher(seg).matches()) {
            throw new AmlException("AML name segment \"" + seg + "\" is not 1-4 characters of"
                    + " A-Z, 0-9 and '_' starting with a letter or '_' (ACPI 6.5 §20.2.2).");
        }
        byte[] out = new byte[4];
        for (int i = 0; i < 4; i++) {
            out[i] = (byte) (i < seg.length() ? seg.charAt(i) : '_');
        }
        return out;
    }

    /**
     * A NameString (§20.2.2) from ASL path syntax: an optional root prefix {@code \} or any number
     * of parent prefixes {@code ^}, then segments separated by dots. One segment encodes bare, two
     * after DualNamePrefix, three or more after MultiNamePrefix and a count; a prefix alone (the
     * root, {@code "\\"}) is followed by NullName.
     */
    public static byte[] nameString(String path) {
        Bytes.Writer w = new Bytes.Writer();
        int i = 0;
        if (path.startsWith("\\")) {
            w.u8(ROOT_CHAR);
            i = 1;
        } else {
            while (i < path.length() && path.charAt(i) == '^') {
                w.u8(PARENT_PREFIX_CHAR);
                i++;
            }
        }
        String rest = path.substring(i);
        if (rest.isEmpty()) {
            if (i == 0) {
                throw new AmlException("AML name path is empty.");
            }
            return w.u8(ZERO_OP).toByteArray(); // NullName
        }
        String[] segs = rest.split("\\.", -1);
        if (segs.length > 255) {
            throw new AmlException("AML name path \"" + path + "\" has " + segs.length
                    + " segments; a MultiNamePath holds at most 255 (ACPI 6.5 §20.2.2).");
        }
        if (segs.length == 2) {
            w.u8(DUAL_NAME_PREFIX);
        } else if (segs.length > 2) {
            w.u8(MULTI_NAME_PREFIX).u8(segs.length);
        }
        for (String s : segs) {
            w.bytes(nameSeg(s));
        }
        return w.toByteArray();
    }

    /**
     * The PkgLength (§20.2.4) for a package whose content after the PkgLength is
     * {@code contentLength} bytes. The encoded value counts the PkgLength bytes themselves, so the
     * form is chosen on {@code contentLength + formSize}: one byte holds up to 63 (bits 5-0);
     * otherwise bits 7-6 of the lead byte give the number of following bytes (1-3), the lead
     * byte's bits 3-0 hold the low nibble and each following byte the next 8 bits, for at most
     * 12, 20 or 28 bits.
     */
    public static byte[] pkgLength(int contentLength) {
        if (contentLength < 0) {
            throw new AmlException("AML package length " + contentLength + " is negative.");
        }
        if (contentLength + 1 <= 0x3f) {
            return new byte[] {(byte) (contentLength + 1)};
        }
        for (int follow = 1; follow <= 3; follow++) {
            long total = (long) contentLength + 1 + follow;
            if (total < (1L << (4 + 8 * follow))) {
                byte[] out = new byte[1 + follow];
                out[0] = (byte) ((follow << 6) | (total & 0x0f));
                for (int k = 1; k <= follow; k++) {
                    out[k] = (byte) (total >>> (4 + 8 * (k - 1)));
                }
                return out;
            }
        }
        throw new AmlException("AML package of " + contentLength + " bytes exceeds the 28-bit"
                + " PkgLength limit (ACPI 6.5 §20.2.4).");
    }

    // ------------------------------------------------------------------------------- data

    /** ZeroOp. */
    public static byte[] zero() {
        return new byte[] {ZERO_OP};
    }

    /** OneOp. */
    public static byte[] one() {
        return new byte[] {ONE_OP};
    }

    /** OnesOp: all bits set at the 64-bit integer width of a revision-2 definition block. */
    public static byte[] ones() {
        return new byte[] {(byte) ONES_OP};
    }

    /**
     * An integer (§20.2.3 ComputationalData) in its smallest encoding; {@code value} is unsigned,
     * so {@code -1L} is 2^64-1 (OnesOp).
     */
    public static byte[] integer(long value) {
        if (value == 0) {
            return zero();
        }
        if (value == 1) {
            return one();
        }
        if (value == -1L) {
            return ones();
        }
        if (Long.compareUnsigned(value, 0xffL) <= 0) {
            return Bytes.concat(new byte[] {BYTE_PREFIX}, Bytes.le(value, 1));
        }
        if (Long.compareUnsigned(value, 0xffffL) <= 0) {
            return Bytes.concat(new byte[] {WORD_PREFIX}, Bytes.le(value, 2));
        }
        if (Long.compareUnsigned(value, 0xffff_ffffL) <= 0) {
            return Bytes.concat(new byte[] {DWORD_PREFIX}, Bytes.le(value, 4));
        }
        return Bytes.concat(new byte[] {QWORD_PREFIX}, Bytes.le(value, 8));
    }

    /** A String (§20.2.3): StringPrefix, ASCII 0x01-0x7F, NullChar. */
    public static byte[] string(String s) {
        Bytes.Writer w = new Bytes.Writer().u8(STRING_PREFIX);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x01 || c > 0x7f) {
                throw new AmlException("AML string \"" + s + "\" has character U+"
                        + String.format("%04X", (int) c) + "; AsciiChar is 0x01-0x7F"
                        + " (ACPI 6.5 §20.2.3).");
            }
            w.u8(c);
        }
        return w.u8(0).toByteArray();
    }

    /** A Buffer (§20.2.5.4 DefBuffer): BufferOp PkgLength BufferSize ByteList. */
    public static byte[] buffer(byte[] data) {
        byte[] content = Bytes.concat(integer(data.length), data);
        return Bytes.concat(new byte[] {BUFFER_OP}, pkgLength(content.length), content);
    }

    /**
     * A Package (§20.2.5.4 DefPackage): PackageOp PkgLength NumElements PackageElementList, each
     * element an already-encoded data object or name.
     */
    public static byte[] pkg(byte[]... elements) {
        if (elements.length > 255) {
            throw new AmlException("AML Package has " + elements.length + " elements; NumElements"
                    + " is one byte, so use at most 255 (ACPI 6.5 §20.2.5.4).");
        }
        byte[] content = Bytes.concat(new byte[] {(byte) elements.length}, Bytes.concat(elements));
        return Bytes.concat(new byte[] {PACKAGE_OP}, pkgLength(content.length), content);
    }

    // -------------------------------------------------------------------- named objects

    /** Name (§20.2.5.1 DefName): NameOp NameString DataRefObject. */
    public static byte[] name(String path, byte[] value) {
        return Bytes.concat(new byte[] {NAME_OP}, nameString(path), value);
    }

    /** Scope (§20.2.5.1 DefScope): ScopeOp PkgLength NameString TermList. */
    public static byte[] scope(String path, byte[]... terms) {
        byte[] content = Bytes.concat(nameString(path), Bytes.concat(terms));
        return Bytes.concat(new byte[] {SCOPE_OP}, pkgLength(content.length), content);
    }

    /** Device (§20.2.5.2 DefDevice): ExtOpPrefix DeviceOp PkgLength NameString TermList. */
    public static byte[] device(String path, byte[]... terms) {
        byte[] content = Bytes.concat(nameString(path), Bytes.concat(terms));
        return Bytes.concat(new byte[] {EXT_OP_PREFIX, (byte) DEVICE_OP},
                pkgLength(content.length), content);
    }

    /**
     * Method (§20.2.5.2 DefMethod): MethodOp PkgLength NameString MethodFlags TermList.
     * MethodFlags bits 2-0 are ArgCount (0-7), bit 3 SerializeFlag, bits 7-4 SyncLevel (left 0).
     */
    public static byte[] method(String path, int argCount, boolean serialized, byte[]... terms) {
        if (argCount < 0 || argCount > 7) {
            throw new AmlException("AML method " + path + " declares " + argCount
                    + " arguments; a method takes 0 to 7 (ACPI 6.5 §20.2.5.2).");
        }
        int flags = argCount | (serialized ? 0x08 : 0);
        byte[] content = Bytes.concat(nameString(path), new byte[] {(byte) flags},
                Bytes.concat(terms));
        return Bytes.concat(new byte[] {METHOD_OP}, pkgLength(content.length), content);
    }

    /** Return (§20.2.5.3 DefReturn): ReturnOp ArgObject. */
    public static byte[] returnValue(byte[] value) {
        return Bytes.concat(new byte[] {(byte) RETURN_OP}, value);
    }

    // ------------------------------------------------------------------ device identity

    /**
     * The 32-bit compressed EISA id of a PNP id such as {@code "PNP0501"} (the ASL EISAID
     * macro, ACPI 6.5 §19.6): the three letters as 5-bit values (letter - 0x40) in bits 14-10,
     * 9-5 and 4-0 of the first big-endian word, the four hex digits in the second big-endian
     * word. Stored as a little-endian DWord, {@code "PNP0501"} is 0x0105D041.
     */
    public static int eisaId(String id) {
        if (!EISA_ID.matcher(id).matches()) {
            throw new AmlException("EISA id \"" + id + "\" is not three capital letters and four"
                    + " hex digits (the ASL EISAID macro, ACPI 6.5 §19.6).");
        }
        int vendor = ((id.charAt(0) - 0x40) << 10) | ((id.charAt(1) - 0x40) << 5)
                | (id.charAt(2) - 0x40);
        int product = Integer.parseInt(id.substring(3), 16);
        int bigEndian = (vendor << 16) | product;
        return Integer.reverseBytes(bigEndian);
    }

    /**
     * {@code Name(_HID, ...)}: a PNP id ("PNP0501") is stored as its compressed EISA id, any
     * other hardware id ("ACPI0006", "QEMU0002") as a string (§6.1.5).
     */
    public static byte[] hid(String id) {
        byte[] value = EISA_ID.matcher(id).matches()
                ? integer(Integer.toUnsignedLong(eisaId(id))) : string(id);
        return name("_HID", value);
    }

    /** {@code Name(_UID, uid)} (§6.1.12). */
    public static byte[] uid(long uid) {
        return name("_UID", integer(uid));
    }

    /**
     * {@code Method(_STA) { Return(status) }} (§6.3.7); 0x0F is present, enabled, shown in the
     * UI and functioning.
     */
    public static byte[] sta(int status) {
        return method("_STA", 0, false, returnValue(integer(status)));
    }

    /** {@code Name(_CRS, ResourceTemplate() { descriptors })} (§6.2.2). */
    public static byte[] crs(byte[]... descriptors) {
        return name("_CRS", AmlResource.template(descriptors));
    }

    /**
     * {@code Name(_S5_, Package() { slpTypA, slpTypB })}, the soft-off system state object
     * (ACPI 6.5 §7.4, \_Sx):
     * OSPM writes SLP_TYPa into SLP_TYP of the sleep control register with SLP_EN to power off.
     */
    public static byte[] s5(int slpTypA, int slpTypB) {
        return name("_S5_", pkg(integer(slpTypA), integer(slpTypB)));
    }

    /** Copies a list of encoded terms into an array for the varargs methods. */
    static byte[][] array(List<byte[]> terms) {
        return new ArrayList<>(terms).toArray(byte[][]::new);
    }
}
