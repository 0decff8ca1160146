/**
 * The Xen PVH direct boot ABI (docs/misc/pvh.pandoc) for ELF kernels with a
 * XEN_ELFNOTE_PHYS32_ENTRY note: the hvm_start_info page, the 32-bit GDT and the entry state.
 * Pure: computes what goes into guest memory and vCPU registers; touches no KVM.
 */
package dev.ristretto.firmware.pvh;
