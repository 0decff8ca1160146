/**
 * virtio-net (VIRTIO 1.2 §5.1): the network device model, the backend interface frames pass
 * through, and the framing of passt's stream socket.
 */
package dev.ristretto.devices.virtio.net;
