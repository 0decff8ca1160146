/**
 * Interrupt routing for devices that run off the vCPU threads: {@link dev.ristretto.vmm.irq.MsiRoutes}
 * owns the VM's GSI routing table and hands out MSI interrupts (a GSI, an irqfd, a route). The
 * machine adapts them to the devices' MSI-X seam (MsiSink.signal → trigger, messageChanged →
 * update); this package knows only message addresses and data, not PCI.
 */
package dev.ristretto.vmm.irq;
