package dev.ristretto.vmm.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.kvm.Kvm;
import dev.ristretto.vmm.kvm.KvmTestSupport;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The probe's VM, run loop and watchdog against KVM, with guests other than the real probe. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NativeProbeIT {

    @Test
    void aGuestThatNeverEndsIsKickedOutAtTheLimit() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            long start = System.nanoTime();
            // mov dx, 0x5b0 ; mov al, 'S' ; out dx, al ; 1: jmp 1b
            NativeProbe.Result r = NativeProbe.run(kvm, HexFormat.of().parseHex("66bab005b053eeebfe"),
                    Duration.ofMillis(300));
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertEquals(NativeProbe.Outcome.INCONCLUSIVE, r.outcome(), r.detail());
            assertEquals("the probe guest did not finish within 300 ms", r.detail());
            assertTrue(ms >= 300 && ms < 10_000, ms + " ms");
        }
    }

    @Test
    void aGuestThatStopsBeforeTheFirstMarkerIsInconclusive() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            NativeProbe.Result r = NativeProbe.run(kvm, HexFormat.of().parseHex("f4"), Duration.ofSeconds(10)); // hlt
            assertEquals(NativeProbe.Outcome.INCONCLUSIVE, r.outcome(), r.detail());
            assertEquals("the probe guest stopped before its first instruction completed: KVM_EXIT_HLT before the marker",
                    r.detail());
        }
    }

    @Test
    void theRealProbeEndsWithAVerdictWellWithinItsLimit() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            NativeProbe.Result r = NativeProbe.run(kvm);
            assertTrue(r.outcome() == NativeProbe.Outcome.NATIVE || r.outcome() == NativeProbe.Outcome.EMULATION_ONLY,
                    r.toString());
        }
    }
}
