package dev.ristretto.vmm.vcpu;

import dev.ristretto.vmm.device.BusDevice;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A test device: records every access as "R/W offset size [data]" and answers reads with
 * {@code readValue} (little-endian, truncated to the access size).
 */
final class RecordingDevice implements BusDevice {
    final List<String> log = new ArrayList<>();
    final List<Byte> written = new ArrayList<>();
    private final long readValue;

    RecordingDevice(long readValue) {
        this.readValue = readValue;
    }

    @Override
    public synchronized void read(long offset, byte[] data) {
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (readValue >>> (8 * i));
        }
        log.add("R " + offset + " " + data.length + " " + HexFormat.of().formatHex(data));
    }

    @Override
    public synchronized void write(long offset, byte[] data) {
        for (byte b : data) {
            written.add(b);
        }
        log.add("W " + offset + " " + data.length + " " + HexFormat.of().formatHex(data));
    }

    synchronized List<String> log() {
        return List.copyOf(log);
    }

    synchronized String writtenText() {
        byte[] b = new byte[written.size()];
        for (int i = 0; i < b.length; i++) {
            b[i] = written.get(i);
        }
        return new String(b, java.nio.charset.StandardCharsets.ISO_8859_1);
    }
}
