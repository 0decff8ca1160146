/**
 * Host I/O behind the virtio devices: raw disk images ({@link dev.ristretto.vmm.host.io.RawImage}),
 * TAP devices ({@link dev.ristretto.vmm.host.io.TapDevice}) and passt
 * ({@link dev.ristretto.vmm.host.io.PasstLink}). Each opens and checks its host resource before
 * the guest starts and reports a user's mistake as one sentence naming the path or name and the
 * fix; the device models in {@code ristretto.devices} reach these through thin adapters.
 */
package dev.ristretto.vmm.host.io;
