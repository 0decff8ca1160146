package dev.ristretto.devices.legacy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ristretto.vmm.device.Bus;
import org.junit.jupiter.api.Test;

class PostCodePortTest {

    @Test
    void keepsTheLastCodeAndReadsFloatHigh() {
        PostCodePort post = new PostCodePort();
        assertEquals(-1, post.lastCode());
        Bus io = Bus.builder("io").insert(PostCodePort.PORT, PostCodePort.PORT_COUNT, "post", post).build();
        io.write(0x80, new byte[] {0x12});
        io.write(0x80, new byte[] {(byte) 0xa5, 0x77}); // outw: only the low byte is port 0x80's
        assertEquals(0xa5, post.lastCode());
        assertEquals(2, post.writes());
        byte[] b = new byte[2];
        io.read(0x80, b);
        assertArrayEquals(new byte[] {(byte) 0xff, (byte) 0xff}, b);
        assertEquals(0xa5, post.lastCode(), "reads do not disturb the code");
        assertEquals(0, io.unclaimedWrites());
    }
}
