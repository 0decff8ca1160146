package dev.ristretto.machine;

import java.io.ByteArrayOutputStream;

/**
 * The terminal escape, as in QEMU's {@code -nographic}: Ctrl-A then {@code x} quits, Ctrl-A
 * Ctrl-A sends one Ctrl-A to the guest, Ctrl-A then {@code h} prints help; any other byte after
 * Ctrl-A is passed on with the Ctrl-A. Pure: bytes in, guest bytes and commands out.
 */
public final class EscapeFilter {
    public static final byte CTRL_A = 0x01;

    public enum Command { NONE, QUIT, HELP }

    /** The bytes for the guest from one chunk of host input, and a command if one was typed. */
    public record Result(byte[] toGuest, Command command) {
    }

    private boolean pending;

    /** Filters {@code len} bytes; input after a command in the same chunk is kept for the guest. */
    public Result filter(byte[] in, int off, int len) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(len);
        Command cmd = Command.NONE;
        for (int i = off; i < off + len; i++) {
            byte b = in[i];
            if (pending) {
                pending = false;
                if (b == 'x' || b == 'X') {
                    cmd = Command.QUIT;
                    break;
                } else if (b == 'h' || b == 'H' || b == '?') {
                    cmd = Command.HELP;
                } else if (b == CTRL_A) {
                    out.write(CTRL_A);
                } else {
                    out.write(CTRL_A);
                    out.write(b);
                }
            } else if (b == CTRL_A) {
                pending = true;
            } else {
                out.write(b);
            }
        }
        return new Result(out.toByteArray(), cmd);
    }

    public static String help() {
        return "\r\nCtrl-A x    quit Ristretto\r\nCtrl-A h    this help\r\nCtrl-A Ctrl-A  send Ctrl-A to the guest\r\n";
    }
}
