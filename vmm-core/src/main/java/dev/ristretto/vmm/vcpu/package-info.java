/**
 * The vCPU engine: per-vCPU setup (CPUID, MSRs, FPU, LAPIC), the pure exit handler, the
 * QEMU-style register dump, and the runner that gives every vCPU its own platform thread.
 */
package dev.ristretto.vmm.vcpu;
