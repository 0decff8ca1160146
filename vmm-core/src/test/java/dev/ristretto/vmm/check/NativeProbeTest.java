package dev.ristretto.vmm.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.check.NativeProbe.Outcome;
import dev.ristretto.vmm.kvm.VcpuExit;
import java.util.List;
import org.junit.jupiter.api.Test;

/** NativeProbe's pure parts: how exits map to a verdict, and the guest's code. */
class NativeProbeTest {
    static final VcpuExit.InternalError EMULATION_FAILURE =
            new VcpuExit.InternalError(VcpuExit.InternalError.EMULATION, List.of());

    static VcpuExit marker(byte b) {
        return new VcpuExit.IoOut(NativeProbe.PORT, 1, 1, new byte[] {b});
    }

    @Test
    void theLastMarkerAfterBothInstructionsMeansNative() {
        NativeProbe.Result r = NativeProbe.classify(NativeProbe.PASSED_IRETQ, marker(NativeProbe.PASSED_ALL));
        assertEquals(Outcome.NATIVE, r.outcome());
        assertEquals("a 64-bit test guest ran iretq and cmpxchg16b", r.detail());
    }

    @Test
    void anEmulationFailureNamesTheInstruction() {
        NativeProbe.Result atIretq = NativeProbe.classify(NativeProbe.STARTED, EMULATION_FAILURE);
        assertEquals(Outcome.EMULATION_ONLY, atIretq.outcome());
        assertTrue(atIretq.detail().startsWith("iretq in a 64-bit test guest ended in KVM_EXIT_INTERNAL_ERROR"
                + " (emulation failure)"), atIretq.detail());
        NativeProbe.Result atCmpxchg = NativeProbe.classify(NativeProbe.PASSED_IRETQ, EMULATION_FAILURE);
        assertEquals(Outcome.EMULATION_ONLY, atCmpxchg.outcome());
        assertTrue(atCmpxchg.detail().startsWith("cmpxchg16b in"), atCmpxchg.detail());
    }

    @Test
    void anythingElseIsInconclusive() {
        assertEquals(Outcome.INCONCLUSIVE, NativeProbe.classify((byte) 0, EMULATION_FAILURE).outcome());
        assertEquals(Outcome.INCONCLUSIVE, NativeProbe.classify(NativeProbe.STARTED, new VcpuExit.Shutdown()).outcome());
        assertEquals(Outcome.INCONCLUSIVE, NativeProbe.classify(NativeProbe.STARTED, new VcpuExit.InternalError(
                VcpuExit.InternalError.DELIVERY_EV, List.of())).outcome());
        assertEquals(Outcome.INCONCLUSIVE, NativeProbe.classify(NativeProbe.STARTED, marker(NativeProbe.PASSED_ALL))
                .outcome(), "the last marker without the iretq one");
        assertEquals(Outcome.INCONCLUSIVE, NativeProbe.classify(NativeProbe.PASSED_IRETQ, new VcpuExit.Hlt()).outcome());
    }

    @Test
    void theGuestCodeWritesAMarkerAroundEachInstruction() {
        byte[] c = NativeProbe.CODE;
        // mov dx, 0x5b0 (66 ba imm16) matches PORT; the markers are the mov al immediates.
        assertEquals(NativeProbe.PORT, (c[2] & 0xff) | (c[3] & 0xff) << 8);
        assertEquals(NativeProbe.STARTED, c[5]);
        assertEquals(0x48, c[0x18] & 0xff, "REX.W");
        assertEquals(0xcf, c[0x19] & 0xff, "iretq");
        assertEquals(3, c[0x13], "lea rax, [rip + 3]: past push rax (1 byte) and iretq (2) to the next instruction");
        assertEquals(NativeProbe.PASSED_IRETQ, c[0x1b]);
        // REX.W 0F C7 /1 with ModRM 0x0e (reg 1, [rsi]) is CMPXCHG16B m128 (SDM vol 2A).
        assertEquals(List.of(0x48, 0x0f, 0xc7, 0x0e), List.of(c[0x2a] & 0xff, c[0x2b] & 0xff, c[0x2c] & 0xff,
                c[0x2d] & 0xff));
        assertEquals(NativeProbe.PASSED_ALL, c[0x33]);
        assertEquals(0xf4, c[c.length - 1] & 0xff, "hlt");
    }
}
