package dev.ristretto.tests.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ristretto.tests.nested.HostFacts;
import dev.ristretto.tests.nested.Repository;
import dev.ristretto.tests.support.RistrettoProcess;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Boots the freestanding {@code virtio-probe} guest (guest-images/test-guests, built from source)
 * through {@code ristretto run} with virtio-blk, virtio-net, virtio-console and virtio-rng devices,
 * and checks what the guest's polling driver reports (its output format is specified in
 * guest-images/test-guests/README.md) against what the test put on the host side: the bytes of
 * the disk images, the frames on a TAP device, the console output. It runs on this project's
 * emulation-only KVM because the probe polls and uses only integer instructions.
 *
 * <p>One boot per scenario; the scenario's assertions share it. Every boot's serial log, stdout and
 * stderr stay under tests/target/virtio-probe/&lt;scenario&gt;/.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VirtioProbeIT {
    private static final Duration LIMIT = Duration.ofMinutes(3);
    private static final int SECTOR = 512;
    /** 64 KiB: 128 sectors, the capacity the guest must be told (VIRTIO 1.2 §5.2.4, in 512-byte units). */
    private static final int IMAGE_BYTES = 64 * 1024;
    private static final int SECTORS_READ = 8;
    private static final int WRITE_SECTOR = 5;
    private static final int WRITE_BYTE = 0xab;
    private static final String DISK_SERIAL = "RISTRETTO-DISK1";
    private static final String RO_SERIAL = "RISTRETTO-RO";
    private static final int ETHERTYPE = 0x88b5;
    private static final String GUEST_MAC = "52:54:00:aa:bb:cc";
    /** The address the probe asks passt about: TEST-NET-1, never this host's own. */
    private static final String ARP_TARGET = "192.0.2.1";
    private static final String PEER_MAC = "02:00:00:ab:cd:ef";
    private static final String TAP = "rtap0";
    private static final Pattern SECTION_START = Pattern.compile("^virtio (\\S+) type=(\\w+) device=0x[0-9a-f]{4}$");
    private static final Pattern RNG = Pattern.compile("(?m)^rng len=64 data=([0-9a-f]{128})$");

    private Path logs;
    private Path probe;
    private Boot userNetBoot;
    private Passt userNetPasst;

    @BeforeAll
    void buildGuest() throws Exception {
        assumeTrue(HostFacts.probe().devKvmUsable(), "/dev/kvm is missing or not accessible to this user");
        logs = Repository.targetDir("virtio-probe");
        Path err = logs.resolve("build.err");
        Process build = new ProcessBuilder(Repository.script("guest-images/test-guests/build.sh").toString(),
                logs.resolve("guests").toString()).redirectError(err.toFile()).start();
        List<String> paths = new String(build.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        assertTrue(build.waitFor(120, TimeUnit.SECONDS), "build.sh did not finish");
        assumeTrue(build.exitValue() != 3, "no compiler for the test guests: " + Files.readString(err));
        assertEquals(0, build.exitValue(), Files.readString(err));
        probe = Path.of(paths.get(2));
        assertEquals("virtio-probe", probe.getFileName().toString(), "build.sh printed " + paths);
    }

    // ---------------------------------------------------------------- scenario 1-3: disks, console, entropy

    /** A writable disk and a read-only disk of fixed-seed random bytes, the virtio console, virtio-rng. */
    private record DiskBoot(Boot boot, byte[] rw, byte[] ro, Path rwImage, Path roImage) {
    }

    private DiskBoot diskBoot;

    private synchronized DiskBoot diskBoot() throws Exception {
        if (diskBoot == null) {
            Path dir = scenario("disks");
            byte[] rw = random(IMAGE_BYTES, 42);
            byte[] ro = random(IMAGE_BYTES, 43);
            Path rwImage = Files.write(dir.resolve("disk.img"), rw);
            Path roImage = Files.write(dir.resolve("ro.img"), ro);
            Boot b = boot(dir, List.of(), "--append", "vprobe.blk_read=" + SECTORS_READ + " vprobe.blk_write="
                            + WRITE_SECTOR + ":0x" + Integer.toHexString(WRITE_BYTE),
                    "--disk", rwImage + ",serial=" + DISK_SERIAL, "--disk", roImage + ",ro,serial=" + RO_SERIAL,
                    "--console", "virtio", "--rng", "on");
            diskBoot = new DiskBoot(b, rw, ro, rwImage, roImage);
        }
        return diskBoot;
    }

    @Test
    void writableDiskReadsWritesFlushesAndNamesItself() throws Exception {
        DiskBoot d = diskBoot();
        d.boot().assertExitedCleanly();
        List<String> blk = d.boot().section("blk", "blk id status=0 serial=\"" + DISK_SERIAL + "\"");
        assertTrue(blk.contains("blk capacity=" + IMAGE_BYTES / SECTOR + " ro=0 flush=1"), String.join("\n", blk));
        assertEquals(expectedReads(d.rw()), linesStarting(blk, "blk read "));
        byte[] written = new byte[SECTOR];
        Arrays.fill(written, (byte) WRITE_BYTE);
        assertTrue(blk.contains("blk write sector=" + WRITE_SECTOR + " status=0"), String.join("\n", blk));
        assertTrue(blk.contains("blk readback sector=" + WRITE_SECTOR + " status=0 " + sumAndHead(written)),
                String.join("\n", blk));
        assertTrue(blk.contains("blk flush status=0"), String.join("\n", blk));
        assertTrue(blk.getLast().endsWith(" end ok status=0x0f"), String.join("\n", blk));

        // The host file: the written sector holds the guest's bytes, every other byte is untouched.
        byte[] expected = d.rw().clone();
        System.arraycopy(written, 0, expected, WRITE_SECTOR * SECTOR, SECTOR);
        assertArrayEquals(expected, Files.readAllBytes(d.rwImage()), "disk.img after the boot");
    }

    /**
     * A {@code ro} disk offers VIRTIO_BLK_F_RO (VIRTIO 1.2 §5.2.3), and the probe, like Linux, then
     * does not write at all. So this checks the feature bit and that the file is untouched; a write
     * request that ignores the bit (the device must fail it with IOERR, §5.2.6.2) is not something
     * the probe sends.
     */
    @Test
    void readOnlyDiskIsReadableAndTellsTheGuestNotToWrite() throws Exception {
        DiskBoot d = diskBoot();
        d.boot().assertExitedCleanly();
        List<String> blk = d.boot().section("blk", "blk id status=0 serial=\"" + RO_SERIAL + "\"");
        assertTrue(blk.stream().anyMatch(l -> l.startsWith("blk capacity=" + IMAGE_BYTES / SECTOR + " ro=1 ")),
                String.join("\n", blk));
        assertEquals(expectedReads(d.ro()), linesStarting(blk, "blk read "));
        assertTrue(blk.contains("blk write skipped: the device is read-only (VIRTIO_BLK_F_RO)"), String.join("\n", blk));
        assertTrue(linesStarting(blk, "blk write sector=").isEmpty(), String.join("\n", blk));
        assertTrue(blk.getLast().endsWith(" end ok status=0x0f"), String.join("\n", blk));
        assertArrayEquals(d.ro(), Files.readAllBytes(d.roImage()), "ro.img after the boot");
    }

    @Test
    void virtioConsoleLineReachesRistrettosOutput() throws Exception {
        Boot b = diskBoot().boot();
        b.assertExitedCleanly();
        List<String> con = b.section("console", "console tx len=20 ");
        assertTrue(con.contains("console tx len=20 text=\"RISTRETTO-HVC hello\\x0a\""), String.join("\n", con));
        assertTrue(con.getLast().endsWith(" end ok status=0x0f"), String.join("\n", con));
        // The probe writes this text unescaped only through the virtio console's transmit queue (its
        // own UART lines escape the newline as \x0a), so a bare line in the output came through
        // virtio-console, which Ristretto sends where COM1 goes (here: the --serial file).
        assertTrue(b.serial().lines().anyMatch("RISTRETTO-HVC hello"::equals), b.serial());
    }

    @Test
    void entropyIsNotConstantAndDiffersBetweenBoots() throws Exception {
        Boot first = diskBoot().boot();
        Boot second = userNetBoot();
        first.assertExitedCleanly();
        second.assertExitedCleanly();
        byte[] a = entropy(first);
        byte[] b = entropy(second);
        assertTrue(distinct(a) > 1, "64 equal bytes from virtio-rng: " + HexFormat.of().formatHex(a));
        assertTrue(distinct(b) > 1, "64 equal bytes from virtio-rng: " + HexFormat.of().formatHex(b));
        // Two 64-byte draws from getrandom collide with probability 2^-512.
        assertFalse(Arrays.equals(a, b), "two boots got the same 64 bytes: " + HexFormat.of().formatHex(a));
        for (Boot boot : List.of(first, second)) {
            assertTrue(boot.section("rng", "rng len=").getLast().endsWith(" end ok status=0x0f"), boot.serial());
        }
    }

    // ---------------------------------------------------------------- scenario 5: --net user (passt)

    private synchronized Boot userNetBoot() throws Exception {
        if (userNetBoot == null) {
            Path dir = scenario("net-user");
            Launch l = Launch.start(dir, List.of(), runArgs(dir, "--append", "vprobe.net_dst=ff:ff:ff:ff:ff:ff"
                    + " vprobe.net_type=0x0806 vprobe.net_rx_type=0x0806 vprobe.net_rx_timeout=30 vprobe.net_tx_hex="
                    + HexFormat.of().formatHex(arpRequest()), "--net", "user,mac=" + GUEST_MAC));
            Passt passt = new Passt();
            while (l.process().isAlive() && l.elapsed().compareTo(LIMIT) < 0) {
                passt.look(l.process());
                Thread.sleep(5);
            }
            userNetBoot = l.await(LIMIT);
            userNetPasst = passt;
        }
        return userNetBoot;
    }

    /**
     * --net user end to end on this host: Ristretto starts passt, the probe's ARP request (RFC 826)
     * for {@value #ARP_TARGET} goes out through the device, passt answers it as the guest's
     * neighbour (it answers ARP for every address but the guest's own), the reply comes back in,
     * and passt ends with the machine.
     */
    @Test
    void userNetworkAnswersAnArpRequestThroughPasstAndLeavesNoPasst() throws Exception {
        Boot b = userNetBoot();
        b.assertExitedCleanly();
        // A guest-initiated exit closes the device, which stops passt before the JVM ends: no grace.
        userNetPasst.assertOneSeenAndGone(Duration.ZERO);
        List<String> net = b.section("net", "net mac=");
        assertTrue(net.contains("net mac=" + GUEST_MAC), String.join("\n", net));
        ByteBuffer request = ByteBuffer.allocate(60);
        request.put(HexFormat.of().parseHex("ffffffffffff" + GUEST_MAC.replace(":", "") + "0806")).put(arpRequest());
        assertTrue(net.contains(String.format(Locale.ROOT, "net tx len=60 dst=ff:ff:ff:ff:ff:ff src=%s type=0x0806 sum32=0x%08x",
                GUEST_MAC, sum32(request.array()))), String.join("\n", net));
        String rx = net.stream().filter(l -> l.startsWith("net rx len=")).findFirst()
                .orElseThrow(() -> new AssertionError("passt sent no ARP reply:\n" + String.join("\n", net)));
        assertTrue(rx.contains(" dst=" + GUEST_MAC + " ") && rx.contains(" type=0x0806 "), rx);
        String hex = net.stream().filter(l -> l.startsWith("net rx payload_hex=")).findFirst()
                .orElseThrow(() -> new AssertionError("no payload_hex line:\n" + String.join("\n", net)))
                .substring("net rx payload_hex=".length());
        byte[] reply = HexFormat.of().parseHex(hex);
        ByteBuffer r = ByteBuffer.wrap(reply);
        assertEquals(1, r.getShort(0), "htype Ethernet: " + hex);
        assertEquals(0x0800, r.getShort(2), "ptype IPv4: " + hex);
        assertEquals(2, r.getShort(6), "op: reply: " + hex);
        String senderIp = String.format(Locale.ROOT, "%d.%d.%d.%d", reply[14] & 0xff, reply[15] & 0xff, reply[16] & 0xff,
                reply[17] & 0xff);
        assertEquals(ARP_TARGET, senderIp, "the reply answers for the address asked: " + hex);
        assertEquals(GUEST_MAC.replace(":", ""), HexFormat.of().formatHex(reply, 18, 24), "target MAC: " + hex);
        assertTrue(net.getLast().endsWith(" end ok status=0x0f"), String.join("\n", net));
    }

    /** ARP request (RFC 826) from GUEST_MAC, sender address 0.0.0.0 (a probe), for ARP_TARGET. */
    private static byte[] arpRequest() {
        ByteBuffer a = ByteBuffer.allocate(28);
        a.putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4).putShort((short) 1);
        a.put(HexFormat.of().parseHex(GUEST_MAC.replace(":", ""))).putInt(0);
        a.put(new byte[6]);
        for (String octet : ARP_TARGET.split("\\.")) {
            a.put((byte) Integer.parseInt(octet));
        }
        return a.array();
    }

    // ---------------------------------------------------------------- scenario 4: TAP in a namespace

    @Test
    void tapDeviceCarriesFramesBothWays() throws Exception {
        assumeTrue(isRoot(), "a network namespace and a TAP device need root; this test runs as uid " + uid());
        assumeTrue(commandWorks("ip", "-V"), "the ip command (iproute2) is not installed");
        assumeTrue(commandWorks("python3", "--version"), "python3 is not installed; the packet peer needs it");
        Path dir = scenario("net-tap");
        String ns = "rvprobe-" + ProcessHandle.current().pid();
        Process peer = null;
        try {
            exec("ip", "netns", "add", ns);
            exec("ip", "netns", "exec", ns, "ip", "tuntap", "add", "dev", TAP, "mode", "tap");
            exec("ip", "netns", "exec", ns, "ip", "link", "set", TAP, "up");
            peer = new ProcessBuilder("ip", "netns", "exec", ns, "python3",
                    Repository.script("guest-images/test-guests/packet-peer.py").toString(), TAP,
                    "0x" + Integer.toHexString(ETHERTYPE), "RISTRETTO-RX", PEER_MAC, String.valueOf(LIMIT.toSeconds()))
                    .redirectError(dir.resolve("peer.err").toFile()).start();
            BufferedReader peerOut = new BufferedReader(new InputStreamReader(peer.getInputStream(), StandardCharsets.US_ASCII));
            assertEquals("ready", peerOut.readLine(), () -> "packet peer failed: " + read(dir.resolve("peer.err")));

            Boot b = Launch.start(dir, List.of("ip", "netns", "exec", ns), runArgs(dir, "--append",
                    "vprobe.net_rx_timeout=60", "--net", "tap=" + TAP + ",mac=" + GUEST_MAC)).await(LIMIT);
            assertTrue(peer.waitFor(30, TimeUnit.SECONDS), "the packet peer did not finish");
            List<String> said = peerOut.lines().toList();
            Files.write(dir.resolve("peer.out"), said);
            b.assertExitedCleanly();

            // Guest → TAP: the peer read exactly the frame the probe says it sent.
            byte[] received = peerFrame(said, "rx");
            assertArrayEquals(guestFrame(), received, "the frame the peer read on " + TAP);
            List<String> net = b.section("net", "net mac=");
            assertTrue(net.contains("net mac=" + GUEST_MAC), String.join("\n", net));
            assertTrue(net.contains(String.format(Locale.ROOT, "net tx len=60 dst=ff:ff:ff:ff:ff:ff src=%s type=0x%04x sum32=0x%08x",
                    GUEST_MAC, ETHERTYPE, sum32(received))), String.join("\n", net));

            // TAP → guest: the probe received the peer's answer, byte for byte (by sum and head).
            byte[] sent = peerFrame(said, "tx");
            String rx = net.stream().filter(l -> l.startsWith("net rx len=")).findFirst()
                    .orElseThrow(() -> new AssertionError("no net rx line:\n" + String.join("\n", net)));
            assertTrue(Pattern.matches(Pattern.quote(String.format(Locale.ROOT, "net rx len=%d dst=%s src=%s type=0x%04x polls=",
                    sent.length, GUEST_MAC, PEER_MAC, ETHERTYPE)) + "\\d+" + Pattern.quote(String.format(Locale.ROOT,
                    " sum32=0x%08x head=%s payload=\"RISTRETTO-RX\"", sum32(sent), head(sent))), rx), rx);
            assertTrue(net.getLast().endsWith(" end ok status=0x0f"), String.join("\n", net));
        } finally {
            if (peer != null && peer.isAlive()) {
                peer.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
            // Deleting the namespace also deletes the TAP device that lives in it.
            Process del = new ProcessBuilder("ip", "netns", "del", ns).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("netns-del.log").toFile()).start();
            assertTrue(del.waitFor(30, TimeUnit.SECONDS) && del.exitValue() == 0,
                    "ip netns del " + ns + " failed: " + read(dir.resolve("netns-del.log")));
        }
    }

    // ---------------------------------------------------------------- scenario 6: bad input

    @Test
    void missingImageIsRefused() throws Exception {
        Path dir = scenario("bad-missing");
        Path image = dir.resolve("no-such.img");
        Files.deleteIfExists(image);
        assertRefused(boot(dir, List.of(), "--disk", image.toString()), image.toString());
    }

    @Test
    void emptyImageIsRefused() throws Exception {
        Path dir = scenario("bad-empty");
        Path image = Files.write(dir.resolve("empty.img"), new byte[0]);
        assertRefused(boot(dir, List.of(), "--disk", image.toString()), image.toString(), "empty");
    }

    @Test
    void imageLockedByAnotherRistrettoIsRefused() throws Exception {
        Path dir = scenario("bad-locked");
        Path image = Files.write(dir.resolve("shared.img"), random(IMAGE_BYTES, 44));
        Path firstDir = scenario("bad-locked/first");
        // The first VM keeps running while its probe waits for a frame nobody sends (passt answers
        // nothing of ethertype 0x88b5), which leaves time for the second one to try the image.
        Launch first = Launch.start(firstDir, List.of(), runArgs(firstDir, "--append", "vprobe.net_rx_timeout=120",
                "--disk", image.toString(), "--net", "user"));
        Passt passt = new Passt();
        try {
            Path firstSerial = firstDir.resolve("serial.log");
            while (!read(firstSerial).contains("net rx waiting")) {
                assertTrue(first.process().isAlive(), "the first Ristretto ended early:\n" + read(firstSerial));
                assertTrue(first.elapsed().compareTo(LIMIT) < 0, "the first guest never waited for a frame");
                Thread.sleep(50);
            }
            passt.look(first.process());
            Path secondDir = scenario("bad-locked/second");
            Boot second = boot(secondDir, List.of(), "--disk", image.toString());
            assertRefused(second, image.toString(), "locked", String.valueOf(first.process().pid()));
        } finally {
            first.process().destroy();
            Boot b = first.await(Duration.ofSeconds(30));
            Files.writeString(firstDir.resolve("exit.txt"), "exit " + b.outcome().exitCode() + " after SIGTERM, "
                    + b.outcome().elapsed().toMillis() + " ms\n");
        }
        // Stopped by SIGTERM rather than by its guest, Ristretto must still not leave passt behind;
        // an orphaned passt would notice its closed socket (it runs with -1, one client) a little later.
        passt.assertOneSeenAndGone(Duration.ofSeconds(5));
    }

    @Test
    void missingTapDeviceIsRefused() throws Exception {
        Path dir = scenario("bad-tap");
        String name = "rvpnone" + ProcessHandle.current().pid() % 100_000;
        Path sys = Path.of("/sys/class/net", name);
        assumeTrue(!Files.exists(sys), "a network device " + name + " exists on this host");
        assertRefused(boot(dir, List.of(), "--net", "tap=" + name), name);
        // As root, TUNSETIFF on an unknown name would create the device: it must not have.
        assertFalse(Files.exists(sys), "Ristretto created " + name);
    }

    @Test
    void duplicateDiskSerialsAreRefused() throws Exception {
        Path dir = scenario("bad-serials");
        Path a = Files.write(dir.resolve("a.img"), random(IMAGE_BYTES, 45));
        Path b = Files.write(dir.resolve("b.img"), random(IMAGE_BYTES, 46));
        assertRefused(boot(dir, List.of(), "--disk", a + ",serial=TWIN", "--disk", b + ",serial=TWIN"), "TWIN", "serial");
    }

    // ---------------------------------------------------------------- benchmark mode (bench/virtio-bench.sh)

    /** The 64-bit word the probe's benchmark writes repeat (README.md, "Benchmark mode"). */
    private static final long BENCH_WORD = 0x5a5a5a5aa5a5a5a5L;
    private static final Pattern BENCH_LINE = Pattern.compile(
            "^bench (blk-[a-z-]+) bytes=(\\d+) ns=(\\d+) ops=(\\d+) req_bytes=(\\d+) segs=(\\d+) cycles=(\\d+)( flush_ns=\\d+)?$");

    /**
     * Benchmark mode is the guest side of the issue-5 figures, so what it claims to have moved must
     * be what it moved: its random writes land exactly at the 4 KiB blocks its documented LCG picks
     * (recomputed here), with its documented pattern, and nowhere else; its 1 MiB requests use the
     * segment size seg_max allows; and it reports a TSC rate and a time for every test it ran.
     */
    @Test
    void benchmarkModeWritesWhereItsLcgSaysAndReportsEveryTest() throws Exception {
        Path dir = scenario("bench");
        int imageBytes = 2 * 1024 * 1024;
        int ops = 16;
        long seed = 7;
        byte[] original = random(imageBytes, 47);
        Path image = Files.write(dir.resolve("bench.img"), original);
        Boot b = boot(dir, List.of(), "--append", "vprobe.bench=blk-seq-read,blk-rand-write,net-tx vprobe.bench_seq_mib=3"
                + " vprobe.bench_rand_ops=" + ops + " vprobe.bench_seed=" + seed, "--disk", image.toString(), "--rng", "off");
        b.assertExitedCleanly();
        List<String> lines = b.serial().lines().toList();
        assertTrue(lines.contains("bench options tests=blk-seq-read,blk-rand-write,net-tx seq_mib=3 rand_ops=16 frames=20000"
                + " frame_lens=60:1514 seed=7"), b.serial());
        assertTrue(lines.stream().anyMatch(l -> l.matches("bench tsc hz=[1-9]\\d{6,} rtc_seconds=2 cycles=\\d+")), b.serial());
        // Ristretto: a 256-entry queue and seg_max 254, so 1 MiB goes as 128 segments of 8 KiB.
        assertTrue(lines.contains("bench blk capacity=" + imageBytes / SECTOR + " queue=256 segment_bytes=8192 ro=0"), b.serial());
        List<Matcher> figures = lines.stream().map(BENCH_LINE::matcher).filter(Matcher::matches).toList();
        assertEquals(List.of("blk-seq-read", "blk-rand-write"), figures.stream().map(m -> m.group(1)).toList(), b.serial());
        Matcher seq = figures.get(0);
        // Three 1 MiB requests on a 2 MiB disk: the third wraps around to sector 0.
        assertEquals(List.of("3145728", "3", "1048576", "128"), List.of(seq.group(2), seq.group(4), seq.group(5), seq.group(6)));
        Matcher rand = figures.get(1);
        assertEquals(List.of(String.valueOf(ops * 4096), String.valueOf(ops), "4096", "1"),
                List.of(rand.group(2), rand.group(4), rand.group(5), rand.group(6)));
        assertTrue(rand.group(8) != null, "a write test ends with a timed FLUSH: " + rand.group());
        for (Matcher m : figures) {
            assertTrue(Long.parseLong(m.group(3)) > 0, m.group());
        }
        assertTrue(lines.contains("bench net-tx skipped: no virtio-net device"), b.serial());

        // The image: the LCG's blocks hold the pattern, every other byte is as it was.
        byte[] expected = original.clone();
        byte[] block = new byte[4096];
        ByteBuffer fill = ByteBuffer.wrap(block).order(ByteOrder.LITTLE_ENDIAN);
        while (fill.hasRemaining()) {
            fill.putLong(BENCH_WORD);
        }
        long slots = imageBytes / 4096;
        long state = seed;
        for (int i = 0; i < ops; i++) {
            state = state * 6364136223846793005L + 1442695040888963407L;
            long slot = (state >>> 16) % slots;
            System.arraycopy(block, 0, expected, (int) (slot * 4096), 4096);
        }
        assertArrayEquals(expected, Files.readAllBytes(image), "bench.img after the random writes");
    }

    // ---------------------------------------------------------------- helpers

    /** A finished boot: how Ristretto ended, and the serial log (COM1, and here also hvc0). */
    private record Boot(RistrettoProcess.Outcome outcome, String serial) {
        void assertExitedCleanly() {
            assertEquals(0, outcome.exitCode(), "stderr: " + outcome.stderr() + "\nserial:\n" + serial);
            assertTrue(serial.contains("VIRTIO-PROBE-DONE"), serial);
        }

        /**
         * The lines of the one device section of {@code type} that contains a line starting with
         * {@code marker}: from {@code virtio <bdf> type=…} to {@code virtio <bdf> end …} inclusive.
         */
        List<String> section(String type, String marker) {
            List<List<String>> found = new ArrayList<>();
            List<String> current = null;
            String bdf = null;
            for (String line : serial.lines().toList()) {
                Matcher m = SECTION_START.matcher(line);
                if (m.matches()) {
                    current = m.group(2).equals(type) ? new ArrayList<>() : null;
                    bdf = m.group(1);
                }
                if (current != null) {
                    current.add(line);
                    if (line.startsWith("virtio " + bdf + " end ")) {
                        if (current.stream().anyMatch(l -> l.startsWith(marker))) {
                            found.add(current);
                        }
                        current = null;
                    }
                }
            }
            assertEquals(1, found.size(), "sections of type " + type + " with '" + marker + "' in:\n" + serial);
            return found.getFirst();
        }
    }

    /**
     * The passt processes seen under a Ristretto JVM. passt runs in the foreground ({@code -f}) as a
     * child of Ristretto, so the test records its pid while the VM runs and checks afterwards that
     * exactly that process is gone — a check by pid, unlike {@code pgrep passt}, is not confused by
     * other VMs on the same host. On x86-64 passt re-executes itself as {@code passt.avx2} when the
     * CPU has AVX2 (passt's arch.c), so the executable's name starts with "passt" rather than being
     * exactly that.
     */
    private static final class Passt {
        private final Set<Long> pids = new TreeSet<>();

        void look(Process ristretto) {
            ristretto.descendants()
                    .filter(h -> h.info().command().map(c -> Path.of(c).getFileName().toString().startsWith("passt"))
                            .orElse(false))
                    .forEach(h -> pids.add(h.pid()));
        }

        /** Exactly one passt was seen, and it has ended within {@code grace} of Ristretto's exit. */
        void assertOneSeenAndGone(Duration grace) throws InterruptedException {
            assertEquals(1, pids.size(), "passt processes seen under Ristretto: " + pids);
            long deadline = System.nanoTime() + grace.toNanos();
            for (long pid : pids) {
                Optional<ProcessHandle> h = ProcessHandle.of(pid);
                while (h.map(ProcessHandle::isAlive).orElse(false) && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertFalse(h.map(ProcessHandle::isAlive).orElse(false),
                        "passt (pid " + pid + ") still runs " + grace.toMillis() + " ms after Ristretto exited");
            }
        }
    }

    /** A Ristretto child JVM, optionally behind a command prefix such as {@code ip netns exec NS}. */
    private record Launch(RistrettoProcess.Running running, Path dir) {
        static Launch start(Path dir, List<String> prefix, List<String> args) throws IOException {
            return new Launch(RistrettoProcess.start(dir, prefix, args), dir);
        }

        Process process() {
            return running.process();
        }

        Duration elapsed() {
            return running.elapsed();
        }

        Boot await(Duration timeout) throws IOException, InterruptedException {
            RistrettoProcess.Outcome outcome = running.await(timeout);
            String line = String.format(Locale.ROOT, "%s: exit %d in %d ms%s%n", dir.getFileName(), outcome.exitCode(),
                    outcome.elapsed().toMillis(), outcome.timedOut() ? " (killed after the time limit)" : "");
            Files.writeString(dir.resolve("timing.txt"), line);
            System.out.print("[virtio-probe] " + line);
            return new Boot(outcome, read(dir.resolve("serial.log")));
        }
    }

    private List<String> runArgs(Path dir, String... extra) {
        List<String> args = new ArrayList<>(List.of("run", "--kernel", probe.toString(), "--memory", "128M",
                "--serial", "file:" + dir.resolve("serial.log")));
        args.addAll(List.of(extra));
        return args;
    }

    private Boot boot(Path dir, List<String> prefix, String... extra) throws IOException, InterruptedException {
        return Launch.start(dir, prefix, runArgs(dir, extra)).await(LIMIT);
    }

    /** A user mistake: exit 2, one line on stderr naming the culprit, and no guest output at all. */
    private static void assertRefused(Boot b, String... named) {
        String err = b.outcome().stderr();
        assertEquals(2, b.outcome().exitCode(), "stderr: " + err + "\nserial:\n" + b.serial());
        List<String> lines = err.lines().filter(l -> !l.isBlank()).toList();
        assertEquals(1, lines.size(), "expected one line on stderr, got:\n" + err);
        for (String n : named) {
            assertTrue(lines.getFirst().contains(n), "the message does not name " + n + ": " + lines.getFirst());
        }
        assertFalse(b.serial().contains("VIRTIO-PROBE"), "the guest ran:\n" + b.serial());
        assertEquals("", b.outcome().stdout());
    }

    /** A scenario's log directory, emptied of an earlier run's logs (the tests read them back). */
    private Path scenario(String name) throws IOException {
        Path dir = Files.createDirectories(logs.resolve(name));
        for (String log : List.of("serial.log", "stdout.log", "stderr.log", "timing.txt", "peer.out", "exit.txt")) {
            Files.deleteIfExists(dir.resolve(log));
        }
        return dir;
    }

    /** The lines the probe must print for sectors 0 .. SECTORS_READ-1 of {@code image}. */
    private static List<String> expectedReads(byte[] image) {
        List<String> lines = new ArrayList<>();
        for (int s = 0; s < SECTORS_READ; s++) {
            lines.add("blk read sector=" + s + " status=0 " + sumAndHead(Arrays.copyOfRange(image, s * SECTOR, (s + 1) * SECTOR)));
        }
        return lines;
    }

    private static String sumAndHead(byte[] data) {
        return String.format(Locale.ROOT, "sum32=0x%08x head=%s", sum32(data), head(data));
    }

    /** The probe's {@code head=}: the first 16 bytes as two hex digits each, separated by spaces. */
    private static String head(byte[] data) {
        return HexFormat.ofDelimiter(" ").formatHex(data, 0, Math.min(16, data.length));
    }

    private static List<String> linesStarting(List<String> lines, String prefix) {
        return lines.stream().filter(l -> l.startsWith(prefix)).toList();
    }

    /** The frame the probe transmits: broadcast, from GUEST_MAC, ETHERTYPE, "RISTRETTO-TX", padded to 60. */
    private static byte[] guestFrame() {
        ByteBuffer f = ByteBuffer.allocate(60);
        f.put(HexFormat.of().parseHex("ffffffffffff")).put(HexFormat.of().parseHex(GUEST_MAC.replace(":", "")));
        f.putShort((short) ETHERTYPE).put("RISTRETTO-TX".getBytes(StandardCharsets.US_ASCII));
        return f.array();
    }

    /** The frame bytes of the peer's {@code rx}/{@code tx} line. */
    private static byte[] peerFrame(List<String> said, String what) {
        Pattern p = Pattern.compile("^" + what + " len=(\\d+) frame=([0-9a-f]+)$");
        for (String line : said) {
            Matcher m = p.matcher(line);
            if (m.matches()) {
                byte[] frame = HexFormat.of().parseHex(m.group(2));
                assertEquals(Integer.parseInt(m.group(1)), frame.length, line);
                return frame;
            }
        }
        return fail("the packet peer printed no " + what + " line: " + said);
    }

    private static byte[] entropy(Boot b) {
        Matcher m = RNG.matcher(b.serial());
        assertTrue(m.find(), "no rng line in:\n" + b.serial());
        return HexFormat.of().parseHex(m.group(1));
    }

    private static long distinct(byte[] data) {
        return IntStream.range(0, data.length).map(i -> data[i]).distinct().count();
    }

    /** The probes' checksum: little-endian 32-bit words, the last one zero-padded, summed mod 2^32. */
    static int sum32(byte[] data) {
        ByteBuffer b = ByteBuffer.wrap(Arrays.copyOf(data, (data.length + 3) & ~3)).order(ByteOrder.LITTLE_ENDIAN);
        int sum = 0;
        while (b.hasRemaining()) {
            sum += b.getInt();
        }
        return sum;
    }

    private static byte[] random(int size, long seed) {
        byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        return data;
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file, StandardCharsets.ISO_8859_1) : "";
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e.getMessage() + ")";
        }
    }

    private static String uid() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("Uid:"))
                .map(l -> l.split("\\s+")[2]).findFirst().orElse("?");
    }

    /** The effective uid is 0 (the third field of {@code Uid:} in /proc/self/status, proc(5)). */
    private static boolean isRoot() throws IOException {
        return uid().equals("0");
    }

    private static boolean commandWorks(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    private static void exec(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), String.join(" ", cmd) + " did not finish");
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed: " + out);
    }
}
