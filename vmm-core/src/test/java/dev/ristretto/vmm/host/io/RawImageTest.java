package dev.ristretto.vmm.host.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** RawImage against real files in a temporary directory. */
class RawImageTest {
    private static final int SIZE = 1 << 20;

    @TempDir
    Path dir;

    private Path image(byte[] content) throws IOException {
        Path p = dir.resolve("disk.img");
        Files.write(p, content);
        return p;
    }

    private static byte[] pattern(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Same results through the page cache and through O_DIRECT, aligned or not (native and heap memory). */
    @ParameterizedTest
    @EnumSource(CacheMode.class)
    void readsAndWritesGoStraightBetweenFileAndSegments(CacheMode cache) throws IOException {
        byte[] content = pattern(SIZE, 1);
        Path p = image(content);
        try (RawImage img = RawImage.open(p, false, cache); Arena arena = Arena.ofConfined()) {
            assertEquals(SIZE, img.sizeBytes());
            // Page-aligned native memory: under cache=none this is the O_DIRECT path.
            MemorySegment page = arena.allocate(8192, 4096);
            img.read(4096, page);
            assertArrayEquals(Arrays.copyOfRange(content, 4096, 4096 + 8192), page.toArray(ValueLayout.JAVA_BYTE));
            // Unaligned address, offset and length: the buffered path.
            MemorySegment odd = arena.allocate(1000 + 3).asSlice(3);
            img.read(513, odd);
            assertArrayEquals(Arrays.copyOfRange(content, 513, 1513), odd.toArray(ValueLayout.JAVA_BYTE));

            byte[] data = pattern(8192, 2);
            page.copyFrom(MemorySegment.ofArray(data));
            img.write(65536, page);
            byte[] small = pattern(700, 3);
            img.write(100_001, MemorySegment.ofArray(small)); // heap segment: bounced
            img.flush();
            byte[] heapBack = new byte[700];
            img.read(100_001, MemorySegment.ofArray(heapBack));
            assertArrayEquals(small, heapBack);

            byte[] onDisk = Files.readAllBytes(p);
            byte[] expected = content.clone();
            System.arraycopy(data, 0, expected, 65536, data.length);
            System.arraycopy(small, 0, expected, 100_001, small.length);
            assertArrayEquals(expected, onDisk);
        }
    }

    @Test
    void transfersOutsideTheImageAreRefused() throws IOException {
        try (RawImage img = RawImage.open(image(new byte[SIZE]), false, CacheMode.WRITEBACK);
                Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(1024);
            assertThrows(IOException.class, () -> img.read(SIZE - 512, buf));
            assertThrows(IOException.class, () -> img.write(-512, buf));
            assertThrows(IOException.class, () -> img.read(Long.MAX_VALUE, buf));
            assertThrows(IOException.class, () -> img.discard(SIZE, 1));
            assertThrows(IOException.class, () -> img.writeZeroes(512, Long.MAX_VALUE));
            img.read(SIZE - 1024, buf); // the last bytes are fine
        }
    }

    @Test
    void discardAndWriteZeroesLeaveZeroesAndKeepTheSize() throws IOException {
        byte[] content = pattern(SIZE, 4);
        Path p = image(content);
        try (RawImage img = RawImage.open(p, false, CacheMode.WRITEBACK)) {
            img.discard(65536, 131072);
            img.writeZeroes(1536, 512);
            img.writeZeroes(300_000, 70_000); // not block-aligned: ZERO_RANGE zeroes partial blocks too
            img.flush();
        }
        byte[] expected = content.clone();
        Arrays.fill(expected, 65536, 65536 + 131072, (byte) 0);
        Arrays.fill(expected, 1536, 2048, (byte) 0);
        Arrays.fill(expected, 300_000, 370_000, (byte) 0);
        assertEquals(SIZE, Files.size(p));
        assertArrayEquals(expected, Files.readAllBytes(p));
    }

    @Test
    void readOnlyImagesRefuseEveryChange() throws IOException {
        byte[] content = pattern(SIZE, 5);
        Path p = image(content);
        try (RawImage img = RawImage.open(p, true, CacheMode.WRITEBACK); Arena arena = Arena.ofConfined()) {
            assertTrue(img.readOnly());
            MemorySegment buf = arena.allocate(512);
            img.read(0, buf);
            assertTrue(assertThrows(IOException.class, () -> img.write(0, buf)).getMessage().contains("read-only"));
            assertThrows(IOException.class, () -> img.discard(0, 512));
            assertThrows(IOException.class, () -> img.writeZeroes(0, 512));
            img.flush(); // allowed: nothing to make durable
        }
        assertArrayEquals(content, Files.readAllBytes(p));
    }

    @Test
    void readOnlyOpensWorkOnAReadOnlyFile() throws IOException {
        Path p = image(new byte[4096]);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("r--r--r--"));
        try (RawImage img = RawImage.open(p, true, CacheMode.WRITEBACK)) {
            assertEquals(4096, img.sizeBytes());
        }
    }

    @Test
    void missingImage() {
        Path p = dir.resolve("nope.img");
        assertEquals("disk image " + p + " does not exist: check the path given to --disk (create an empty image with: truncate -s 1G "
                + p + ")", message(p, false));
    }

    @Test
    void directoryAndCharacterDeviceAreNotImages() {
        assertEquals("disk image " + dir + " is a directory, not a regular file or block device: give --disk a raw image file",
                message(dir, false));
        assertTrue(message(Path.of("/dev/null"), true).startsWith("disk image /dev/null is a special file"));
    }

    @Test
    void emptyImage() throws IOException {
        Path p = image(new byte[0]);
        assertEquals("disk image " + p + " is empty (0 bytes): give it a size, e.g. truncate -s 1G " + p, message(p, false));
    }

    @Test
    void sizeNotAMultipleOf512() throws IOException {
        Path p = image(new byte[1000]);
        assertEquals("disk image " + p + " is 1000 bytes, not a multiple of 512: pad it with truncate -s 1024 " + p,
                message(p, false));
    }

    /**
     * A file this user may not write. Root ignores permission bits, so as root the file is made
     * immutable (chattr +i), which refuses even root's O_RDWR with EPERM.
     */
    @Test
    void unwritableImageSaysChmodOrRo() throws Exception {
        Path p = image(new byte[4096]);
        boolean root = ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
        if (root) {
            Assumptions.assumeTrue(run("chattr", "+i", p.toString()) == 0, "chattr +i is not supported on " + dir);
        } else {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("r--r--r--"));
        }
        try {
            assertEquals("disk image " + p + " is not writable by this user: allow it with chmod u+rw " + p
                    + ", or add ,ro to --disk to use it read-only", message(p, false));
        } finally {
            if (root) {
                run("chattr", "-i", p.toString());
            }
        }
    }

    @Test
    void unreadableImageSaysChmod() throws Exception {
        Assumptions.assumeFalse(((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0,
                "root may read any file: EACCES on read cannot be provoked as root");
        Path p = image(new byte[4096]);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("---------"));
        assertEquals("disk image " + p + " is not readable by this user: allow it with chmod u+r " + p
                + " (or run as a user who may read it)", message(p, true));
    }

    /** OFD locks belong to the open file description: a second open in this very process conflicts. */
    @Test
    void secondOpenInTheSameProcessIsLockedOut() throws IOException {
        Path p = image(new byte[4096]);
        long pid = ProcessHandle.current().pid();
        try (RawImage first = RawImage.open(p, false, CacheMode.WRITEBACK)) {
            String rw = message(p, false);
            assertTrue(rw.startsWith("disk image " + p + " is locked by PID " + pid + " ("), rw);
            assertTrue(rw.endsWith("): stop that VM first, or give each VM its own copy of the image"), rw);
            String ro = message(p, true);
            assertTrue(ro.contains("is locked by PID " + pid + " ") && ro.contains(", which is writing it"), ro);
        }
        // Closing released the lock; two readers share.
        try (RawImage a = RawImage.open(p, true, CacheMode.WRITEBACK);
                RawImage b = RawImage.open(p, true, CacheMode.WRITEBACK)) {
            assertTrue(message(p, false).contains("is locked by PID " + pid));
        }
        RawImage.open(p, false, CacheMode.WRITEBACK).close();
    }

    /** A second JVM (another Ristretto) holding the image: the error names its PID and command line. */
    @Test
    void imageHeldByAnotherProcessNamesIt() throws Exception {
        Path p = image(new byte[4096]);
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        Process child = new ProcessBuilder(javaBin.toString(), "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), LockHolderMain.class.getName(), p.toString())
                .redirectErrorStream(true).start();
        try {
            String line = new String(child.getInputStream().readNBytes(7), StandardCharsets.US_ASCII);
            assertEquals("LOCKED\n", line, "child JVM did not take the lock");
            String msg = message(p, false);
            assertTrue(msg.startsWith("disk image " + p + " is locked by PID " + child.pid() + " ("), msg);
            assertTrue(msg.contains("bin/java --enable-native-access"), msg); // its command line (truncated)
        } finally {
            child.getOutputStream().close(); // the child exits at end of input
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        }
        RawImage.open(p, false, CacheMode.WRITEBACK).close(); // its exit released the lock
    }

    /**
     * A block device (a loop device over a temporary file, root only): size by lseek, O_DIRECT
     * transfers, discard and write-zeroes through the block layer's fallocate, and the lock.
     */
    @Test
    void blockDeviceImage() throws Exception {
        Assumptions.assumeTrue(((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0,
                "needs root to attach a loop device");
        byte[] content = pattern(SIZE, 9);
        Path backing = image(content);
        Process attach = new ProcessBuilder("losetup", "--find", "--show", backing.toString()).redirectErrorStream(true).start();
        String loop = new String(attach.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
        Assumptions.assumeTrue(attach.waitFor() == 0 && loop.startsWith("/dev/loop"), "losetup failed: " + loop);
        Path dev = Path.of(loop);
        try {
            try (RawImage img = RawImage.open(dev, false, CacheMode.NONE); Arena arena = Arena.ofConfined()) {
                assertEquals(SIZE, img.sizeBytes());
                MemorySegment page = arena.allocate(4096, 4096);
                img.read(8192, page);
                assertArrayEquals(Arrays.copyOfRange(content, 8192, 12288), page.toArray(ValueLayout.JAVA_BYTE));
                page.fill((byte) 0x33);
                img.write(0, page);
                img.discard(65536, 65536);
                img.writeZeroes(131072, 4096);
                img.flush();
                assertTrue(message(dev, false).contains("is locked by PID " + ProcessHandle.current().pid()));
            }
        } finally {
            assertEquals(0, run("losetup", "-d", loop));
        }
        byte[] expected = content.clone();
        Arrays.fill(expected, 0, 4096, (byte) 0x33);
        Arrays.fill(expected, 65536, 131072, (byte) 0);
        Arrays.fill(expected, 131072, 135168, (byte) 0);
        assertArrayEquals(expected, Files.readAllBytes(backing));
    }

    @Test
    void procLocksParsing() {
        String text = """
                1: POSIX  ADVISORY  WRITE 10891 fe:00:402116 0 EOF
                2: OFDLCK ADVISORY  WRITE 4242 fe:01:77 0 EOF
                2: -> OFDLCK ADVISORY  WRITE 999 fe:01:77 0 EOF
                3: FLOCK  ADVISORY  WRITE 6284 fe:01:78 0 EOF
                4: OFDLCK ADVISORY  READ  -1 08:11:5 0 EOF
                """;
        assertEquals(4242, ProcLocks.holder(text, 0xfe, 1, 77).orElseThrow());
        assertEquals(10891, ProcLocks.holder(text, 0xfe, 0, 402116).orElseThrow());
        assertTrue(ProcLocks.holder(text, 0xfe, 1, 78).isEmpty(), "flock locks do not conflict with OFD locks");
        assertTrue(ProcLocks.holder(text, 8, 0x11, 5).isEmpty(), "pid -1 is not a holder");
        assertTrue(ProcLocks.holder("garbage\n\n1: OFDLCK x y z w\n", 1, 2, 3).isEmpty());
        // fdinfo form: the lock held through that descriptor, pid -1 for OFD locks.
        String fdinfo = "pos:\t0\nflags:\t02100002\nmnt_id:\t27\nino:\t2146720\nlock:\t1: OFDLCK ADVISORY  WRITE -1 fe:00:2146720 0 EOF\n";
        assertTrue(ProcLocks.listsLock(fdinfo, 0xfe, 0, 2146720));
        assertTrue(ProcLocks.holder(fdinfo, 0xfe, 0, 2146720).isEmpty());
        assertTrue(!ProcLocks.listsLock(fdinfo, 0xfe, 0, 2146721));
        assertTrue(ProcLocks.listsLock(text, 0xfe, 1, 77) && !ProcLocks.listsLock(text, 0xfe, 1, 78));
        // glibc's makedev(0x103, 0x12345) splits major and minor around each other.
        long dev = (0x12345L & 0xff) | ((0x103L & 0xfff) << 8) | ((0x12345L & ~0xffL) << 12);
        assertEquals(0x103, ProcLocks.major(dev));
        assertEquals(0x12345, ProcLocks.minor(dev));
    }

    private static String message(Path p, boolean ro) {
        return assertThrows(DiskImageException.class, () -> RawImage.open(p, ro, CacheMode.WRITEBACK)).getMessage();
    }

    private static int run(String... cmd) throws Exception {
        Process pr = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
        pr.getInputStream().readAllBytes();
        return pr.waitFor();
    }
}
