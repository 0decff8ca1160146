/**
 * The PC keyboard controller ({@link dev.ristretto.devices.i8042.I8042}): enough of an Intel 8042
 * with a PS/2 keyboard for Linux's i8042 and atkbd drivers to probe, and the pulse-reset line
 * Linux's {@code reboot=k} uses.
 */
package dev.ristretto.devices.i8042;
