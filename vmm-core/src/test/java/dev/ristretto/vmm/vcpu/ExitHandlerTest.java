package dev.ristretto.vmm.vcpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.kvm.VcpuExit;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

/** ExitHandler without KVM: exits built by hand, data windows on the heap. */
class ExitHandlerTest {
    private final RecordingDevice portDev = new RecordingDevice(0x4433_2211L);
    private final RecordingDevice mmioDev = new RecordingDevice(0x8877_6655_4433_2211L);
    private final Bus io = Bus.builder("io").insert(0x3f8, 8, "uart", portDev).build();
    private final Bus mmio = Bus.builder("mmio").insert(0xfee0_0000L, 0x1000, "dev", mmioDev).build();

    @Test
    void portReadIsHandedBackIntoTheExitWindow() {
        MemorySegment window = MemorySegment.ofArray(new byte[2]);
        ExitOutcome o = ExitHandler.handle(new VcpuExit.IoIn(0x3f9, 2, 1, window), io, mmio);
        assertEquals(ExitOutcome.CONTINUE, o);
        assertArrayEquals(new byte[] {0x11, 0x22}, window.toArray(ValueLayout.JAVA_BYTE));
        assertEquals(List.of("R 1 2 1122"), portDev.log());
    }

    @Test
    void stringInReadsEachItemSeparately() {
        MemorySegment window = MemorySegment.ofArray(new byte[3]);
        ExitHandler.handle(new VcpuExit.IoIn(0x3f8, 1, 3, window), io, mmio);
        assertArrayEquals(new byte[] {0x11, 0x11, 0x11}, window.toArray(ValueLayout.JAVA_BYTE));
        assertEquals(List.of("R 0 1 11", "R 0 1 11", "R 0 1 11"), portDev.log());
    }

    @Test
    void stringOutWritesEachItemInOrder() {
        ExitHandler.handle(new VcpuExit.IoOut(0x3f8, 2, 3, new byte[] {1, 2, 3, 4, 5, 6}), io, mmio);
        assertEquals(List.of("W 0 2 0102", "W 0 2 0304", "W 0 2 0506"), portDev.log());
    }

    @Test
    void unclaimedPortReadIsAllOnesAndCounted() {
        MemorySegment window = MemorySegment.ofArray(new byte[4]);
        assertEquals(ExitOutcome.CONTINUE, ExitHandler.handle(new VcpuExit.IoIn(0x80, 4, 1, window), io, mmio));
        assertArrayEquals(new byte[] {-1, -1, -1, -1}, window.toArray(ValueLayout.JAVA_BYTE));
        assertEquals(1, io.unclaimedReads());
        assertEquals(ExitOutcome.CONTINUE, ExitHandler.handle(new VcpuExit.IoOut(0x80, 1, 1, new byte[] {7}), io, mmio));
        assertEquals(1, io.unclaimedWrites());
    }

    @Test
    void mmioReadAndWriteReachTheDeviceAtTheirOffset() {
        MemorySegment window = MemorySegment.ofArray(new byte[8]);
        ExitHandler.handle(new VcpuExit.MmioRead(0xfee0_0020L, 4, window.asSlice(0, 4)), io, mmio);
        assertArrayEquals(new byte[] {0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0}, window.toArray(ValueLayout.JAVA_BYTE));
        ExitHandler.handle(new VcpuExit.MmioWrite(0xfee0_0030L, new byte[] {9, 8}), io, mmio);
        assertEquals(List.of("R 32 4 11223344", "W 48 2 0908"), mmioDev.log());
    }

    @Test
    void terminalExitsStopWithTheirReason() {
        assertEquals(ExitOutcome.Reason.HALT, stop(new VcpuExit.Hlt()));
        assertEquals(ExitOutcome.Reason.SHUTDOWN, stop(new VcpuExit.Shutdown()));
        assertEquals(ExitOutcome.Reason.POWER_OFF, stop(new VcpuExit.SystemEvent(1, List.of())));
        assertEquals(ExitOutcome.Reason.RESET, stop(new VcpuExit.SystemEvent(2, List.of())));
        assertEquals(ExitOutcome.Reason.SYSTEM_EVENT, stop(new VcpuExit.SystemEvent(3, List.of(5L))));
        assertEquals(ExitOutcome.Reason.INTERNAL_ERROR, stop(new VcpuExit.InternalError(1, List.of())));
        assertEquals(ExitOutcome.Reason.FAIL_ENTRY, stop(new VcpuExit.FailEntry(0x80000021L, 3)));
        assertEquals(ExitOutcome.Reason.DEBUG, stop(new VcpuExit.Debug(1, 0x1000, 0, 0)));
        assertEquals(ExitOutcome.Reason.UNKNOWN_EXIT, stop(new VcpuExit.Unknown(7)));
        assertEquals(ExitOutcome.CONTINUE, ExitHandler.handle(new VcpuExit.Interrupted(), io, mmio));
    }

    @Test
    void stopDetailNamesTheInternalErrorSuberror() {
        ExitOutcome.Stop s = assertInstanceOf(ExitOutcome.Stop.class,
                ExitHandler.handle(new VcpuExit.InternalError(1, List.of()), io, mmio));
        assertEquals("KVM internal error, suberror 1: emulation failure", s.detail());
    }

    private ExitOutcome.Reason stop(VcpuExit exit) {
        return assertInstanceOf(ExitOutcome.Stop.class, ExitHandler.handle(exit, io, mmio)).reason();
    }
}
