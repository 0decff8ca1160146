package dev.ristretto.vmm.vcpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.kvm.DescriptorTable;
import dev.ristretto.vmm.kvm.Regs;
import dev.ristretto.vmm.kvm.Sregs;
import dev.ristretto.vmm.kvm.VcpuExit;
import dev.ristretto.vmm.kvm.VcpuFd;
import dev.ristretto.vmm.memory.GuestAddress;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Tiny guests (machine code in the test, assembly in the comments; bytes checked with GNU as)
 * that exercise the whole path: KVM_RUN → VcpuExit → ExitHandler → Bus → device and back.
 * Each skips when /dev/kvm is unavailable.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GuestIT {
    static final int PORT = 0x3f8;

    private static Bus ioBus(RecordingDevice dev) {
        return Bus.builder("io").insert(PORT, 8, "test-port", dev).build();
    }

    private static final Bus NO_MMIO = Bus.builder("mmio").build();

    private static byte[] code(String hex) {
        return HexFormat.of().parseHex(hex.replace(" ", ""));
    }

    @Test
    void realModeGuestWritesToAPort() {
        try (TinyVm vm = TinyVm.create(1)) {
            // mov dx, 0x3f8 ; mov al, 'A' ; out dx, al ; hlt
            vm.load(0x1000, code("ba f8 03  b0 41  ee  f4"));
            vm.realMode(vm.vcpu(0), 0x1000);
            RecordingDevice dev = new RecordingDevice(0);
            TinyVm.Result r = vm.runToStop(vm.vcpu(0), ioBus(dev), NO_MMIO);
            assertEquals(ExitOutcome.Reason.HALT, r.stop().reason());
            assertEquals(List.of("W 0 1 41"), dev.log());
        }
    }

    @Test
    void longModeGuestDoesPortIoAndMmioAndSeesTheDeviceValues() {
        try (TinyVm vm = TinyVm.create(1)) {
            // mov edx, 0x3f8 ; in al, dx ; add al, 1 ; out dx, al
            // mov ebx, 0xd0000000 ; mov eax, [rbx] ; add eax, 0x11111111 ; mov [rbx+8], eax
            // mov rax, [rbx+16] ; mov [rbx+24], rax ; hlt
            vm.load(TinyVm.CODE, code("ba f8 03 00 00  ec  04 01  ee"
                    + "bb 00 00 00 d0  8b 03  05 11 11 11 11  89 43 08"
                    + "48 8b 43 10  48 89 43 18  f4"));
            vm.longMode(vm.vcpu(0), TinyVm.CODE);
            RecordingDevice port = new RecordingDevice(0x5a);
            RecordingDevice mmioDev = new RecordingDevice(0x0102_0304_1234_5678L);
            Bus mmio = Bus.builder("mmio").insert(TinyVm.MMIO_BASE, 0x1000, "test-mmio", mmioDev).build();
            TinyVm.Result r = vm.runToStop(vm.vcpu(0), ioBus(port), mmio);
            assertEquals(ExitOutcome.Reason.HALT, r.stop().reason(), r.stop().detail());
            // The guest read 0x5a, added 1 and wrote it back.
            assertEquals(List.of("R 0 1 5a", "W 0 1 5b"), port.log());
            // 4-byte read 0x12345678 + 0x11111111 = 0x23456789 written at +8; the 8-byte value
            // read at +16 is written back unchanged at +24.
            assertEquals(List.of("R 0 4 78563412", "W 8 4 89674523", "R 16 8 7856341204030201",
                    "W 24 8 7856341204030201"), mmioDev.log());
            Regs regs = vm.vcpu(0).getRegs();
            assertEquals(0x0102_0304_1234_5678L, regs.rax());
            assertTrue(vm.vcpu(0).getSregs().longMode());
        }
    }

    @Test
    void stringIoMovesEveryItemInOrder() {
        try (TinyVm vm = TinyVm.create(1)) {
            // mov si, 0x2000 ; mov cx, 5 ; mov dx, 0x3f8 ; cld ; rep outsb
            // mov di, 0x3000 ; mov cx, 4 ; rep insb ; hlt
            vm.load(0x1000, code("be 00 20  b9 05 00  ba f8 03  fc  f3 6e  bf 00 30  b9 04 00  f3 6c  f4"));
            vm.load(0x2000, "Hello".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            vm.realMode(vm.vcpu(0), 0x1000);
            RecordingDevice dev = new RecordingDevice(0x7e);
            TinyVm.Result r = vm.runToStop(vm.vcpu(0), ioBus(dev), NO_MMIO);
            assertEquals(ExitOutcome.Reason.HALT, r.stop().reason(), r.stop().detail());
            assertEquals("Hello", dev.writtenText());
            assertArrayEquals(new byte[] {0x7e, 0x7e, 0x7e, 0x7e}, vm.memory().read(GuestAddress.of(0x3000), 4));
            assertEquals(0x00, vm.memory().readByte(GuestAddress.of(0x3004)), "rep insb wrote past CX items");
            assertEquals(0x3004, vm.vcpu(0).getRegs().rdi() & 0xffff);
        }
    }

    @Test
    void unclaimedPortReadsReturnAllOnes() {
        try (TinyVm vm = TinyVm.create(1)) {
            // mov dx, 0x1234 ; in al, dx ; mov bl, al ; in eax, dx ; hlt
            vm.load(0x1000, code("ba 34 12  ec  88 c3  66 ed  f4"));
            vm.realMode(vm.vcpu(0), 0x1000);
            Bus io = ioBus(new RecordingDevice(0));
            TinyVm.Result r = vm.runToStop(vm.vcpu(0), io, NO_MMIO);
            assertEquals(ExitOutcome.Reason.HALT, r.stop().reason());
            Regs regs = vm.vcpu(0).getRegs();
            assertEquals(0xff, regs.rbx() & 0xff);
            assertEquals(0xffff_ffffL, regs.rax() & 0xffff_ffffL);
            assertEquals(2, io.unclaimedReads());
        }
    }

    /**
     * {@code paddd xmm0, [rbx]} with RBX in the MMIO hole. On hardware the instruction runs
     * natively until its memory operand faults into KVM as an MMIO access (EPT misconfiguration
     * / NPF); KVM must then emulate it, and its instruction emulator has SSE moves but no SSE
     * arithmetic (arch/x86/kvm/emulate.c: the 0x0F 0xF0-0xFF row of twobyte_table is all "N",
     * so x86_decode_insn fails), so at CPL 0 it reports KVM_EXIT_INTERNAL_ERROR / EMULATION
     * (arch/x86/kvm/x86.c handle_emulation_failure). On this PVM host every instruction goes through that emulator
     * and fails on the same opcode. Either way the diagnostic must show the failing bytes.
     */
    @Test
    void emulationFailureEndsWithInternalErrorAndCodeBytes() {
        try (TinyVm vm = TinyVm.create(1)) {
            // mov ebx, 0xd0000000 ; paddd xmm0, [rbx] ; hlt
            vm.load(TinyVm.CODE, code("bb 00 00 00 d0  66 0f fe 03  f4"));
            vm.longMode(vm.vcpu(0), TinyVm.CODE);
            TinyVm.Result r = vm.runToStop(vm.vcpu(0), ioBus(new RecordingDevice(0)), NO_MMIO);
            assertEquals(ExitOutcome.Reason.INTERNAL_ERROR, r.stop().reason(), r.stop().detail());
            VcpuExit.InternalError err = assertInstanceOf(VcpuExit.InternalError.class, r.exit());
            assertEquals(VcpuExit.InternalError.EMULATION, err.suberror());
            String text = Diagnostics.describe(vm.vcpu(0), r.exit(), vm.memory());
            assertTrue(text.contains("KVM internal error. Suberror: 1 (emulation failure)"), text);
            assertTrue(text.contains("RIP=0000000000010005"), text);
            assertTrue(text.contains("=66 0f fe 03 f4"), text);
            assertTrue(text.contains("CS =0008 0000000000000000 ffffffff 0000a09b"), text);
            assertTrue(text.contains("EFER=0000000000000500"), text);
        }
    }

    @Test
    void diagnosticsSayWhenTheCodeBytesAreUnavailable() {
        try (TinyVm vm = TinyVm.create(1)) {
            VcpuFd vcpu = vm.vcpu(0);
            vm.longMode(vcpu, 0x1_0000_0000L); // above the 4 GiB identity map: not mapped
            String text = Diagnostics.describe(vcpu, new VcpuExit.Shutdown(), vm.memory());
            assertTrue(text.contains("vCPU 0: KVM_EXIT_SHUTDOWN (triple fault)"), text);
            assertTrue(text.contains("Code (linear 0000000100000000)=unavailable (linear 0x100000000 not mapped)"), text);
            vm.longMode(vcpu, TinyVm.MMIO_BASE); // mapped, but MMIO rather than RAM
            text = Diagnostics.describe(vcpu, new VcpuExit.Shutdown(), vm.memory());
            assertTrue(text.contains("=unavailable (physical 0xd0000000 is not RAM)"), text);
            vm.load(RAM_END_MINUS_2, new byte[] {(byte) 0x90, (byte) 0xf4});
            vm.longMode(vcpu, RAM_END_MINUS_2); // two bytes of code, then the end of RAM
            text = Diagnostics.describe(vcpu, new VcpuExit.Shutdown(), vm.memory());
            assertTrue(text.contains("=90 f4 (then physical 0x200000 is not RAM)"), text);
        }
    }

    private static final long RAM_END_MINUS_2 = TinyVm.RAM_SIZE - 2;

    @Test
    void tripleFaultEndsWithShutdown() {
        try (TinyVm vm = TinyVm.create(1)) {
            // ud2 with an IDT limit of 0 in 64-bit mode: #UD's gate (vector 6) is beyond the
            // limit, so delivering it raises #GP; #GP's gate is beyond it too (double fault), and
            // so is #DF's → triple fault → shutdown (SDM vol 3 §6.14 "Exception and Interrupt
            // Handling in 64-bit Mode", §6.15 interrupt 8). Real mode would not do: there the
            // emulator reads the IVT without a limit check and the guest runs off into zeroes.
            vm.load(TinyVm.CODE, code("0f 0b  f4"));
            VcpuFd vcpu = vm.vcpu(0);
            vm.longMode(vcpu, TinyVm.CODE);
            vcpu.setSregs(vcpu.getSregs().withIdt(new DescriptorTable(0, 0)));
            TinyVm.Result r = vm.runToStop(vcpu, ioBus(new RecordingDevice(0)), NO_MMIO);
            assertEquals(ExitOutcome.Reason.SHUTDOWN, r.stop().reason(), r.stop().detail()
                    + "\n" + Diagnostics.describe(vcpu, r.exit(), vm.memory()));
            assertInstanceOf(VcpuExit.Shutdown.class, r.exit());
        }
    }
}
