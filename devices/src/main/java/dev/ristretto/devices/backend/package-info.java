/**
 * Host backends for the virtio devices: thin adapters from the device models' interfaces
 * ({@link dev.ristretto.devices.virtio.block.BlockBackend},
 * {@link dev.ristretto.devices.virtio.net.NetBackend}) to the host I/O in vmm-core
 * ({@code dev.ristretto.vmm.host.io}), which owns every file descriptor, process and thread.
 * Setup failures surface as vmm-core's {@code DiskImageException} and {@code NetBackendException},
 * whose messages are meant for the user as they are.
 */
package dev.ristretto.devices.backend;
