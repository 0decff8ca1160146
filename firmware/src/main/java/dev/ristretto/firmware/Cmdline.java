package dev.ristretto.firmware;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * The kernel command line as the boot protocol carries it: a NUL-terminated byte string the
 * kernel copies into a buffer of cmdline_size + 1 bytes (boot.rst, "cmdline_size" and "THE KERNEL
 * COMMAND LINE"). We accept printable ASCII only: a NUL would silently cut the line short, a
 * newline or other control character ends up in the kernel's parameter parser where it is not a
 * separator, and non-ASCII bytes have no defined meaning there.
 */
public final class Cmdline {
    private Cmdline() {
    }

    /**
     * Checks {@code cmdline} and returns its bytes followed by a terminating NUL.
     *
     * @param maxLength the longest line the kernel accepts, without the NUL (cmdline_size)
     * @throws BootSetupException when the line has a character outside printable ASCII or is
     *                            longer than {@code maxLength} or than Ristretto's buffer
     */
    public static byte[] encode(String cmdline, long maxLength) {
        Objects.requireNonNull(cmdline);
        for (int i = 0; i < cmdline.length(); i++) {
            char c = cmdline.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                throw new BootSetupException("kernel command line: character " + describe(c) + " at position " + i
                        + " is not printable ASCII (the kernel takes one line of printable ASCII; remove it)");
            }
        }
        long length = cmdline.length();
        if (length > maxLength) {
            throw new BootSetupException("kernel command line: append is " + length + " bytes; this kernel accepts at most "
                    + maxLength + " (shorten it)");
        }
        if (length > Layout.CMDLINE_MAX_SIZE - 1) {
            throw new BootSetupException("kernel command line: append is " + length + " bytes; Ristretto passes at most "
                    + (Layout.CMDLINE_MAX_SIZE - 1) + " (shorten it)");
        }
        byte[] ascii = cmdline.getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[ascii.length + 1];
        System.arraycopy(ascii, 0, out, 0, ascii.length);
        return out;
    }

    private static String describe(char c) {
        return switch (c) {
            case '\n' -> "newline (0x0a)";
            case '\r' -> "carriage return (0x0d)";
            case '\t' -> "tab (0x09)";
            case 0 -> "NUL (0x00)";
            default -> String.format("U+%04X", (int) c);
        };
    }
}
