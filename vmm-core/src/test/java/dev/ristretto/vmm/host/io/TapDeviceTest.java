package dev.ristretto.vmm.host.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.sys.Libc;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TapDevice against a real TAP device. The device lives in a network namespace this test makes
 * (so nothing on the host changes and names cannot clash); the test opens /dev/net/tun from a
 * thread moved into that namespace with setns(2), since TUNSETIFF looks the name up in the opening
 * thread's namespace. The other side of the TAP is the namespace's own kernel stack: the TAP gets
 * 10.211.0.1/24, we send an ARP request for that address from a made-up MAC, and the kernel's
 * ARP reply (RFC 826) comes back through the TAP. One exchange proves both directions, needs no
 * extra tools, and does not depend on timing. Root only (creating namespaces and TAPs needs
 * CAP_NET_ADMIN); skipped with the reason otherwise.
 */
class TapDeviceTest {
    private static final String NS = "rtest-tap-" + ProcessHandle.current().pid();
    private static final String TAP = "rtap0";
    private static final byte[] OUR_MAC = {0x02, 0x52, 0x69, 0x73, 0x74, 0x01};
    private static final byte[] OUR_IP = {10, (byte) 211, 0, 2};
    private static final byte[] TAP_IP = {10, (byte) 211, 0, 1};
    private static boolean namespaceMade;

    @BeforeAll
    static void makeNamespace() throws Exception {
        if (!isRoot() || run("ip", "-V") != 0) {
            return;
        }
        if (run("ip", "netns", "add", NS) != 0) {
            return;
        }
        namespaceMade = true;
        assertEquals(0, run("ip", "netns", "exec", NS, "ip", "tuntap", "add", "dev", TAP, "mode", "tap"));
        run("ip", "netns", "exec", NS, "sysctl", "-q", "-w", "net.ipv6.conf." + TAP + ".disable_ipv6=1"); // less chatter
        assertEquals(0, run("ip", "netns", "exec", NS, "ip", "addr", "add", "10.211.0.1/24", "dev", TAP));
        assertEquals(0, run("ip", "netns", "exec", NS, "ip", "link", "set", TAP, "up"));
    }

    @AfterAll
    static void removeNamespace() throws Exception {
        if (namespaceMade) {
            run("ip", "netns", "exec", NS, "ip", "link", "del", TAP);
            run("ip", "netns", "del", NS);
        }
    }

    private static void assumeNamespace() {
        Assumptions.assumeTrue(isRoot(), "needs root (CAP_NET_ADMIN) to create a network namespace and a TAP device");
        Assumptions.assumeTrue(namespaceMade, "ip netns add failed: no iproute2 or no network namespaces here");
    }

    @Test
    void invalidAndMissingNamesSayWhatToDo() {
        assertEquals("TAP name 'a/b' is not a valid interface name: use 1 to 15 characters without '/', ':' or spaces",
                assertThrows(NetBackendException.class, () -> TapDevice.open("a/b")).getMessage());
        assertThrows(NetBackendException.class, () -> TapDevice.open("waytoolongname16"));
        assertThrows(NetBackendException.class, () -> TapDevice.open(""));
        String name = "rnotap" + (ProcessHandle.current().pid() % 100000);
        assertEquals("TAP device " + name + " does not exist: create it with: sudo ip tuntap add dev " + name
                + " mode tap user $USER && sudo ip link set " + name + " up",
                assertThrows(NetBackendException.class, () -> TapDevice.open(name)).getMessage());
    }

    @Test
    void framesCrossInBothDirectionsAndCloseIsPrompt() throws Exception {
        assumeNamespace();
        TapDevice tap = inNamespace(() -> TapDevice.open(TAP));
        BlockingQueue<byte[]> frames = new ArrayBlockingQueue<>(256);
        try {
            tap.start(frame -> {
                byte[] copy = new byte[frame.remaining()];
                frame.get(copy);
                return frames.offer(copy);
            });
            long rxBefore = counter("rx_packets");
            tap.send(ByteBuffer.wrap(arpRequest())); // heap buffer: goes through the send buffer
            byte[] reply = awaitArpReply(frames);
            assertNotNull(reply, "no ARP reply from the namespace's kernel within 5 s");
            assertEquals(OUR_MAC[5], reply[5], "the reply is addressed to our MAC");
            assertTrue(counter("rx_packets") > rxBefore, "the TAP's rx counter counts our frame");

            ByteBuffer direct = ByteBuffer.allocateDirect(60).put(arpRequest()).flip();
            tap.send(direct); // direct buffer: written in place
            assertFalse(direct.hasRemaining());
            assertNotNull(awaitArpReply(frames), "second exchange (direct buffer)");
            assertTrue(tap.framesReceived() >= 2);
        } finally {
            long t0 = System.nanoTime();
            tap.close();
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(ms < 1000, "close took " + ms + " ms");
        }
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().equals("net-tap-" + TAP)),
                "receive thread still alive after close");
        tap.close(); // idempotent
        // Closed: the TAP is free again.
        inNamespace(() -> TapDevice.open(TAP)).close();
    }

    @Test
    void busyAndNonTapDevicesAreExplained() throws Exception {
        assumeNamespace();
        try (TapDevice first = inNamespace(() -> TapDevice.open(TAP))) {
            assertEquals("TAP device " + TAP + " is already attached to another process (a TAP without multi_queue takes"
                    + " one): stop that process or give this VM its own TAP",
                    assertThrows(NetBackendException.class, () -> inNamespace(() -> TapDevice.open(TAP))).getMessage());
        }
        String lo = assertThrows(NetBackendException.class, () -> inNamespace(() -> TapDevice.open("lo"))).getMessage();
        assertEquals("lo exists but is not a TAP device (it is a TUN device or another kind of interface): name a TAP"
                + " device, or create one with: sudo ip tuntap add dev NEWNAME mode tap user $USER", lo);
    }

    /** A broadcast ARP request "who has 10.211.0.1? tell 10.211.0.2", padded to Ethernet's 60-byte minimum. */
    private static byte[] arpRequest() {
        ByteBuffer b = ByteBuffer.allocate(60);
        b.put(new byte[] {-1, -1, -1, -1, -1, -1}).put(OUR_MAC).putShort((short) 0x0806);
        b.putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4).putShort((short) 1);
        b.put(OUR_MAC).put(OUR_IP).put(new byte[6]).put(TAP_IP);
        return b.array();
    }

    private static byte[] awaitArpReply(BlockingQueue<byte[]> frames) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (System.nanoTime() < deadline) {
            byte[] f = frames.poll(100, TimeUnit.MILLISECONDS);
            if (f != null && f.length >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 /* reply */
                    && f[28] == TAP_IP[0] && f[29] == TAP_IP[1] && f[30] == TAP_IP[2] && f[31] == TAP_IP[3]) {
                return f;
            }
        }
        return null;
    }

    private static long counter(String name) throws Exception {
        Process p = new ProcessBuilder("ip", "netns", "exec", NS, "cat", "/sys/class/net/" + TAP + "/statistics/" + name)
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        assertEquals(0, p.waitFor(), out);
        return Long.parseLong(out);
    }

    /** Runs {@code body} on a fresh thread that first joins the test's network namespace. */
    private static <T> T inNamespace(Callable<T> body) throws Exception {
        AtomicReference<Object> result = new AtomicReference<>();
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                int nsFd = Libc.open("/var/run/netns/" + NS, Libc.O_RDONLY | Libc.O_CLOEXEC);
                try {
                    Libc.setns(nsFd, Libc.CLONE_NEWNET);
                } finally {
                    Libc.close(nsFd);
                }
                result.set(body.call());
            } catch (Exception e) {
                result.set(e);
            }
        });
        t.join();
        if (result.get() instanceof Exception e) {
            throw e;
        }
        @SuppressWarnings("unchecked")
        T value = (T) result.get();
        return value;
    }

    private static boolean isRoot() {
        try {
            return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
        } catch (Exception e) {
            return false;
        }
    }

    private static int run(String... cmd) throws Exception {
        try {
            Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor();
        } catch (java.io.IOException e) {
            return -1; // not installed
        }
    }
}
