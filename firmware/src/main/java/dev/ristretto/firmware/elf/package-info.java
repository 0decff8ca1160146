/**
 * ELF kernels: parsing and validation ({@link dev.ristretto.firmware.elf.ElfKernel}), the 64-bit
 * ELF-entry boot ({@link dev.ristretto.firmware.elf.ElfBoot}), and detection of a kernel file's
 * format and boot protocol ({@link dev.ristretto.firmware.elf.KernelFile}). Pure: computes what
 * goes into guest memory and vCPU registers; touches no KVM.
 */
package dev.ristretto.firmware.elf;
