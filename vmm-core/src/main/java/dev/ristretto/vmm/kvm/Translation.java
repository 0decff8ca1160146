package dev.ristretto.vmm.kvm;

/**
 * The result of KVM_TRANSLATE (api.rst §4.15): the guest-physical address a linear address maps
 * to under the vCPU's current paging mode, or {@code valid == false} when it is not mapped.
 */
public record Translation(long linear, long physical, boolean valid, boolean writeable, boolean usermode) {
}
