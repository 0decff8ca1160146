package dev.ristretto.vmm.host.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * Finds the process holding a lock on a file, for the "image is locked" error.
 *
 * <p>Lock lines look like {@code 3: OFDLCK ADVISORY  WRITE 1234 fe:00:402116 0 EOF} (fs/locks.c
 * lock_get_status): kind, type, pid, then the file as {@code MAJOR:MINOR:INODE} with major and minor
 * in hex and the inode in decimal; blocked waiters carry {@code ->} after the ordinal. POSIX locks
 * show their owner's pid. OFD locks belong to an open file description, not a process, and current
 * kernels print their pid as -1 (checked on 6.18: {@code OFDLCK ADVISORY WRITE -1}; F_OFD_GETLK
 * reports -1 too, fcntl(2)). For those we look where the kernel does show the owner: every
 * descriptor's {@code /proc/PID/fdinfo/FD} lists the locks held through it as {@code lock:} lines
 * (fs/proc/fd.c seq_show → locks_show_fdinfo; CRIU reads OFD locks the same way). We only open the
 * fdinfo of descriptors whose {@code /proc/PID/fd/FD} link names the image, so the scan stays
 * cheap, and processes we may not inspect (another user's, without root) are skipped.
 */
final class ProcLocks {
    private ProcLocks() {
    }

    /**
     * The pid of a POSIX or OFD lock (the kinds that conflict with an OFD lock; flock locks do not)
     * on the file with this device and inode in {@code text} (/proc/locks or an fdinfo file), or
     * empty when no such lock is listed or its pid is not shown (-1). Also answers whether some lock
     * is held at all: see {@link #listsLock}.
     */
    static OptionalInt holder(String text, int major, int minor, long inode) {
        for (String line : text.split("\n")) {
            String[] f = lockFields(line, major, minor, inode);
            if (f != null) {
                try {
                    int pid = Integer.parseInt(f[4]);
                    if (pid > 0) {
                        return OptionalInt.of(pid);
                    }
                } catch (NumberFormatException e) {
                    // unknown format: no pid from this line
                }
            }
        }
        return OptionalInt.empty();
    }

    /** True when {@code text} lists a POSIX or OFD lock on the file, whatever pid it shows. */
    static boolean listsLock(String text, int major, int minor, long inode) {
        for (String line : text.split("\n")) {
            if (lockFields(line, major, minor, inode) != null) {
                return true;
            }
        }
        return false;
    }

    /** The fields of a granted POSIX/OFD lock line on this file (an fdinfo "lock:" prefix removed), or null. */
    private static String[] lockFields(String line, int major, int minor, long inode) {
        String l = line.strip();
        if (l.startsWith("lock:")) {
            l = l.substring(5).strip();
        }
        String[] f = l.split("\\s+");
        if (f.length < 6 || f[1].equals("->") || !(f[1].equals("OFDLCK") || f[1].equals("POSIX"))) {
            return null;
        }
        String[] id = f[5].split(":");
        if (id.length != 3) {
            return null;
        }
        try {
            boolean same = Integer.parseInt(id[0], 16) == major && Integer.parseInt(id[1], 16) == minor
                    && Long.parseLong(id[2]) == inode;
            return same ? f : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** glibc's major() for a Linux dev_t (sys/sysmacros.h: 12 bits split around the minor). */
    static int major(long dev) {
        return (int) (((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL));
    }

    /** glibc's minor() for a Linux dev_t. */
    static int minor(long dev) {
        return (int) ((dev & 0xff) | ((dev >>> 12) & ~0xffL));
    }

    /** "PID 1234 (its command line)" for the process locking {@code path}, or a plain fallback. */
    static String describeHolder(Path path) {
        try {
            long dev = (Long) Files.getAttribute(path, "unix:dev");
            long ino = (Long) Files.getAttribute(path, "unix:ino");
            int major = major(dev);
            int minor = minor(dev);
            OptionalInt pid = holder(Files.readString(Path.of("/proc/locks")), major, minor, ino);
            if (pid.isEmpty()) {
                pid = scanFdinfo(path.toRealPath(), major, minor, ino);
            }
            if (pid.isEmpty()) {
                return "another process (one this user may not inspect, or in another PID namespace)";
            }
            return "PID " + pid.getAsInt() + commandLine(pid.getAsInt());
        } catch (IOException | UnsupportedOperationException | ClassCastException e) {
            return "another process (/proc could not be read: " + e.getMessage() + ")";
        }
    }

    private static OptionalInt scanFdinfo(Path real, int major, int minor, long inode) throws IOException {
        String target = real.toString();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> isNumber(p.getFileName().toString()))) {
            for (Path proc : procs) {
                try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
                    for (Path fd : fds) {
                        if (target.equals(linkTarget(fd))) {
                            String info = Files.readString(proc.resolve("fdinfo").resolve(fd.getFileName()));
                            if (listsLock(info, major, minor, inode)) {
                                return OptionalInt.of(Integer.parseInt(proc.getFileName().toString()));
                            }
                        }
                    }
                } catch (IOException | SecurityException e) {
                    // exited meanwhile, or not ours to inspect
                }
            }
        }
        return OptionalInt.empty();
    }

    private static String linkTarget(Path fd) {
        try {
            return Files.readSymbolicLink(fd).toString();
        } catch (IOException e) {
            return null; // closed meanwhile
        }
    }

    private static boolean isNumber(String s) {
        return !s.isEmpty() && s.chars().allMatch(Character::isDigit);
    }

    private static String commandLine(int pid) {
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc", Integer.toString(pid), "cmdline"));
            String cmd = new String(raw, StandardCharsets.UTF_8).replace('\0', ' ').strip();
            if (cmd.isEmpty()) {
                return "";
            }
            return " (" + (cmd.length() > 160 ? cmd.substring(0, 157) + "..." : cmd) + ")";
        } catch (IOException e) {
            return ""; // it exited meanwhile, or hides its cmdline (hidepid)
        }
    }
}
