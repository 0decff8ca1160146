/** virtio-blk (VIRTIO 1.2 §5.2): the block device model and the backend interface it reads and writes. */
package dev.ristretto.devices.virtio.block;
