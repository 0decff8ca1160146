package dev.ristretto.vmm.kvm;

/** The address space of an ioeventfd doorbell (api.rst §4.59 KVM_IOEVENTFD, KVM_IOEVENTFD_FLAG_PIO). */
public enum IoEventSpace {
    /** x86 port I/O: 16-bit port numbers, reached with OUT. */
    PIO,
    /** Guest-physical memory not backed by a memory slot, reached with ordinary stores. */
    MMIO
}
