/** virtio-console (VIRTIO 1.2 §5.3): a single-port console device and its output sink. */
package dev.ristretto.devices.virtio.console;
