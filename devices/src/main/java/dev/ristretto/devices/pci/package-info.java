/**
 * Conventional PCI as the guest sees it: type-0 configuration space with its masks and BAR
 * sizing, the capability list, MSI-X, a host bridge, configuration mechanism #1 and ECAM, and
 * the allocator that places BARs in the machine's windows.
 */
package dev.ristretto.devices.pci;
