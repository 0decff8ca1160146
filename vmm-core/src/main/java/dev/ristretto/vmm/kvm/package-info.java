/**
 * Thin wrappers around the KVM API (Linux Documentation/virt/kvm/api.rst): {@link
 * dev.ristretto.vmm.kvm.Kvm} (/dev/kvm), {@link dev.ristretto.vmm.kvm.VmFd}, {@link
 * dev.ristretto.vmm.kvm.VcpuFd}, immutable register records, and the sealed {@link
 * dev.ristretto.vmm.kvm.VcpuExit}. Struct layouts and ioctl numbers are checked against the
 * kernel headers by the tests.
 */
package dev.ristretto.vmm.kvm;
