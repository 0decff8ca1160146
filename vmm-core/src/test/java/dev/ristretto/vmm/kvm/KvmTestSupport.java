package dev.ristretto.vmm.kvm;

import org.junit.jupiter.api.Assumptions;

/** Opens /dev/kvm for an IT, or skips the test with the reason KVM is unavailable. */
public final class KvmTestSupport {
    private KvmTestSupport() {
    }

    public static Kvm openOrSkip() {
        try {
            return Kvm.open();
        } catch (KvmUnavailableException e) {
            Assumptions.abort("KVM unavailable: " + e.getMessage());
            throw e; // not reached: abort() always throws
        }
    }
}
