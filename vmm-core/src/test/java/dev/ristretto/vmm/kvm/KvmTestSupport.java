package dev.ristretto.vmm.kvm;

import org.junit.jupiter.api.Assumptions;

/**
 * Opens /dev/kvm for an IT, or skips the test with the reason KVM is unavailable. The system
 * property {@code ristretto.kvm.device} names another node, e.g. a missing one to check that the
 * ITs skip rather than pass on hosts without KVM.
 */
public final class KvmTestSupport {
    private KvmTestSupport() {
    }

    public static Kvm openOrSkip() {
        try {
            return Kvm.open(System.getProperty("ristretto.kvm.device", Kvm.DEVICE));
        } catch (KvmUnavailableException e) {
            Assumptions.abort("KVM unavailable: " + e.getMessage());
            throw e; // not reached: abort() always throws
        }
    }
}
