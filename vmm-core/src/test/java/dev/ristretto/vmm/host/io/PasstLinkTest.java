package dev.ristretto.vmm.host.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * PasstLink against the real passt: passt answers DHCP itself (passt(1), "DHCP server"), so a
 * DHCPDISCOVER (RFC 2131 §4.4.1) sent as a guest would must come back as a DHCPOFFER for our
 * transaction. Skipped with the reason when passt is not installed (guest-images/install-deps.sh
 * installs it).
 */
class PasstLinkTest {
    private static final byte[] MAC = {0x02, 0x52, 0x69, 0x73, 0x74, 0x02};
    private static final int XID = 0x52697374;

    @Test
    void missingPasstSaysHowToInstallIt() {
        assertEquals("passt is not installed (needed by --net user): sudo apt-get install passt",
                assertThrows(NetBackendException.class,
                        () -> PasstLink.launch(Path.of("/nonexistent/passt"), List.of())).getMessage());
        assertEquals("passt is not installed (needed by --net user): sudo apt-get install passt",
                assertThrows(NetBackendException.class, () -> PasstLink.launch(null, List.of())).getMessage());
    }

    @Test
    void passtThatFailsToStartIsReportedWithItsOwnWords() {
        Path passt = PasstLink.findOnPath("passt");
        Assumptions.assumeTrue(passt != null, "passt is not installed (sudo apt-get install passt)");
        String msg = assertThrows(NetBackendException.class,
                () -> PasstLink.launch(passt, List.of("--no-such-option"))).getMessage();
        assertTrue(msg.startsWith("passt exited with status "), msg);
    }

    @Test
    void dhcpDiscoverGetsAnOfferAndCloseEndsPasst() throws Exception {
        Path passt = PasstLink.findOnPath("passt");
        Assumptions.assumeTrue(passt != null, "passt is not installed (sudo apt-get install passt)");
        BlockingQueue<byte[]> frames = new ArrayBlockingQueue<>(256);
        PasstLink link = PasstLink.launch();
        ProcessHandle process = link.process();
        Path socket = link.socketPath();
        try {
            assertTrue(process.isAlive());
            assertTrue(Files.exists(socket));
            link.start(frame -> {
                byte[] copy = new byte[frame.remaining()];
                frame.get(copy);
                return frames.offer(copy);
            });
            link.send(ByteBuffer.wrap(dhcpDiscover()));
            byte[] offer = awaitOffer(frames);
            assertNotNull(offer, "no DHCPOFFER from passt within 10 s");
            assertTrue(link.framesReceived() >= 1);
        } finally {
            link.close();
        }
        assertTrue(process.onExit().get(5, TimeUnit.SECONDS) != null);
        assertFalse(process.isAlive(), "passt still running after close");
        assertFalse(Files.exists(socket.getParent()), "passt's private directory was not removed");
    }

    /** Ethernet + IPv4 + UDP 68→67 + BOOTP with option 53 = DHCPDISCOVER (RFC 2131, RFC 2132 §9.6). */
    static byte[] dhcpDiscover() {
        int bootpLen = 300;
        ByteBuffer b = ByteBuffer.allocate(14 + 20 + 8 + bootpLen);
        b.put(new byte[] {-1, -1, -1, -1, -1, -1}).put(MAC).putShort((short) 0x0800);
        int ip = b.position();
        b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + 8 + bootpLen)).putShort((short) 0).putShort((short) 0)
                .put((byte) 64).put((byte) 17).putShort((short) 0).putInt(0).putInt(0xffffffff);
        b.putShort(ip + 10, ipChecksum(b.array(), ip, 20));
        b.putShort((short) 68).putShort((short) 67).putShort((short) (8 + bootpLen)).putShort((short) 0); // no UDP checksum
        int bootp = b.position();
        b.put((byte) 1).put((byte) 1).put((byte) 6).put((byte) 0).putInt(XID).putShort((short) 0)
                .putShort((short) 0x8000); // broadcast flag: we have no address yet
        b.position(bootp + 28);
        b.put(MAC);
        b.position(bootp + 236);
        b.putInt(0x63825363); // magic cookie
        b.put((byte) 53).put((byte) 1).put((byte) 1); // DHCP message type: DISCOVER
        b.put((byte) 255);
        return b.array();
    }

    private static short ipChecksum(byte[] a, int off, int len) {
        int sum = 0;
        for (int i = off; i < off + len; i += 2) {
            sum += ((a[i] & 0xff) << 8) | (a[i + 1] & 0xff);
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (short) ~sum;
    }

    /** The first frame that is a BOOTP reply for our xid carrying option 53 = 2 (DHCPOFFER). */
    private static byte[] awaitOffer(BlockingQueue<byte[]> frames) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            byte[] f = frames.poll(100, TimeUnit.MILLISECONDS);
            if (f == null || f.length < 14 + 20 + 8 + 240) {
                continue;
            }
            ByteBuffer b = ByteBuffer.wrap(f);
            if (b.getShort(12) != 0x0800 || f[23] != 17) {
                continue;
            }
            int udp = 14 + (f[14] & 0x0f) * 4;
            int bootp = udp + 8;
            if (b.getShort(udp) != 67 || b.getShort(udp + 2) != 68 || f[bootp] != 2 || b.getInt(bootp + 4) != XID
                    || b.getInt(bootp + 236) != 0x63825363) {
                continue;
            }
            for (int i = bootp + 240; i + 1 < f.length && (f[i] & 0xff) != 255; ) {
                int code = f[i] & 0xff;
                if (code == 0) {
                    i++;
                    continue;
                }
                int len = f[i + 1] & 0xff;
                if (code == 53 && len == 1 && i + 2 < f.length && f[i + 2] == 2) {
                    return f;
                }
                i += 2 + len;
            }
        }
        return null;
    }
}
