package dev.ristretto.devices.serial;

/**
 * Where the UART puts each byte the guest transmits. Called with the UART's lock held, so bytes
 * from several vCPUs reach the sink in the order the guest wrote them. Whether to flush per byte
 * (an interactive console) or buffer (a log file) is the implementation's choice. The sink must
 * not throw: a host-side output failure is the sink's to record, not the guest's to see.
 */
@FunctionalInterface
public interface SerialSink {

    void write(byte b);

    /** A sink that discards everything (a UART with nothing attached to its TX pin). */
    SerialSink DISCARD = b -> { };
}
