/**
 * The PC's CMOS RTC and NVRAM ({@link dev.ristretto.devices.rtc.CmosRtc}): wall-clock time from an
 * injected {@link java.time.Clock} and the memory-size bytes firmware conventions put there.
 */
package dev.ristretto.devices.rtc;
