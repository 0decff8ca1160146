/**
 * Virtio 1.2: split virtqueues, the modern virtio-over-PCI transport, and the devices behind it.
 */
package dev.ristretto.devices.virtio;
