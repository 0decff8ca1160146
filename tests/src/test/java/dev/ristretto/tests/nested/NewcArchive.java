package dev.ristretto.tests.nested;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * Reads a gzip-compressed newc cpio archive (the initramfs format) so tests can check what an
 * image holds without unpacking it. Format: Linux Documentation/driver-api/early-userspace/
 * buffer-format.rst: a 110-byte ASCII header ("070701" then 13 eight-digit hex fields), the NUL
 * terminated name, padding to 4 bytes, the data, padding to 4 bytes; "TRAILER!!!" ends it.
 */
record NewcArchive(Map<String, Entry> entries) {

    /** One member: its mode bits and contents. */
    record Entry(int mode, byte[] data) {
        boolean isRegularFile() {
            return (mode & 0170000) == 0100000;
        }

        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    static NewcArchive read(Path gzipped) throws IOException {
        byte[] bytes;
        try (InputStream in = new GZIPInputStream(Files.newInputStream(gzipped))) {
            var out = new ByteArrayOutputStream();
            in.transferTo(out);
            bytes = out.toByteArray();
        }
        var entries = new LinkedHashMap<String, Entry>();
        int at = 0;
        while (true) {
            if (at + 110 > bytes.length) {
                throw new IOException(gzipped + ": truncated cpio header at offset " + at);
            }
            String header = new String(bytes, at, 110, StandardCharsets.US_ASCII);
            if (!header.startsWith("070701")) {
                throw new IOException(gzipped + ": no newc magic 070701 at offset " + at);
            }
            int mode = field(header, 1);
            int fileSize = field(header, 6);
            int nameSize = field(header, 11);
            String name = new String(bytes, at + 110, nameSize - 1, StandardCharsets.UTF_8);
            int dataStart = align4(at + 110 + nameSize);
            if (name.equals("TRAILER!!!")) {
                return new NewcArchive(entries);
            }
            byte[] data = new byte[fileSize];
            System.arraycopy(bytes, dataStart, data, 0, fileSize);
            entries.put(name.startsWith("./") ? name.substring(2) : name, new Entry(mode, data));
            at = align4(dataStart + fileSize);
        }
    }

    /** Field {@code index} (0 = c_ino) of the 13 after the magic. */
    private static int field(String header, int index) {
        int start = 6 + 8 * index;
        return (int) Long.parseLong(header.substring(start, start + 8), 16);
    }

    private static int align4(int offset) {
        return (offset + 3) & ~3;
    }
}
