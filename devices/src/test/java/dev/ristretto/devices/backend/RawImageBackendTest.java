package dev.ristretto.devices.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.devices.virtio.block.BlockBackend;
import dev.ristretto.vmm.host.io.CacheMode;
import dev.ristretto.vmm.host.io.DiskImageException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The BlockBackend contract on a real image file, as the virtio-blk device uses it. */
class RawImageBackendTest {
    @TempDir
    Path dir;

    @Test
    void sectorsMoveBetweenGuestMemoryAndTheFile() throws IOException {
        Path p = dir.resolve("disk.img");
        byte[] content = new byte[64 * 1024];
        Arrays.fill(content, (byte) 0x5a);
        Files.write(p, content);
        try (BlockBackend disk = RawImageBackend.open(p, false, CacheMode.NONE); Arena ram = Arena.ofConfined()) {
            assertEquals(content.length, disk.sizeBytes());
            assertFalse(disk.readOnly());
            MemorySegment guestPage = ram.allocate(4096, 4096);
            guestPage.fill((byte) 0x11);
            disk.write(8192, guestPage);
            disk.flush();
            disk.discard(16384, 4096);
            disk.writeZeroes(512, 512);
            MemorySegment back = ram.allocate(4096, 4096);
            disk.read(8192, back);
            assertEquals(-1, back.mismatch(guestPage));
            assertThrows(IOException.class, () -> disk.read(content.length - 512, back)); // past the end
        }
        byte[] expected = content.clone();
        Arrays.fill(expected, 8192, 12288, (byte) 0x11);
        Arrays.fill(expected, 16384, 20480, (byte) 0);
        Arrays.fill(expected, 512, 1024, (byte) 0);
        assertArrayEquals(expected, Files.readAllBytes(p));
    }

    @Test
    void readOnlyAndSetupErrorsReachTheCaller() throws IOException {
        Path p = dir.resolve("ro.img");
        Files.write(p, new byte[4096]);
        try (BlockBackend disk = RawImageBackend.open(p, true, CacheMode.WRITEBACK); Arena ram = Arena.ofConfined()) {
            assertTrue(disk.readOnly());
            assertThrows(IOException.class, () -> disk.write(0, ram.allocate(512)));
            byte[] one = new byte[512];
            disk.read(512, MemorySegment.ofArray(one));
            assertEquals(0, one[0]);
            assertEquals(0, MemorySegment.ofArray(one).get(ValueLayout.JAVA_BYTE, 511));
        }
        Path missing = dir.resolve("missing.img");
        assertTrue(assertThrows(DiskImageException.class, () -> RawImageBackend.open(missing, false, CacheMode.WRITEBACK))
                .getMessage().startsWith("disk image " + missing + " does not exist"));
    }
}
