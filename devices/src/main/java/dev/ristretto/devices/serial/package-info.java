/**
 * The PC's 16550 UART ({@link dev.ristretto.devices.serial.Serial16550}), the console of every
 * Linux guest: bytes out through a {@link dev.ristretto.devices.serial.SerialSink}, host input in
 * through {@code enqueue}.
 */
package dev.ristretto.devices.serial;
