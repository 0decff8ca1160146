package dev.ristretto.vmm.vcpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.ristretto.vmm.kvm.CpuidEntry;
import dev.ristretto.vmm.kvm.VcpuExit;
import dev.ristretto.vmm.kvm.VcpuFd;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** VcpuSetup.configure against KVM, checked from inside the guest with CPUID. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class VcpuSetupIT {

    /**
     * Real mode: CPUID leaf 1 (EBX, ECX) and leaf 0xB subleaf 1 (EBX, EDX) reported on port 0x510.
     * <pre>
     * mov eax, 1 ; cpuid ; mov dx, 0x510 ; mov eax, ebx ; out dx, eax ; mov eax, ecx ; out dx, eax
     * mov eax, 0xb ; mov ecx, 1 ; cpuid ; mov esi, edx ; mov dx, 0x510
     * mov eax, ebx ; out dx, eax ; mov eax, esi ; out dx, eax
     * 1: jmp 1b
     * </pre>
     */
    private static final byte[] REPORT_CPUID = HexFormat.of().parseHex(
            "66b8010000000fa2ba10056689d866ef6689c866ef66b80b00000066b9010000000fa26689d6ba10056689d866ef6689f066efebfe");

    /**
     * Each index of a 3-vCPU VM, checked on the boot vCPU (KVM id 0) of a fresh VM: with the
     * in-kernel LAPIC the other vCPUs are application processors that wait in KVM_RUN for an
     * INIT-SIPI, which a guest this small does not send.
     */
    @Test
    void eachVcpuSeesItsOwnApicIdAndTheTopology() {
        for (int i = 0; i < 3; i++) {
            try (TinyVm vm = TinyVm.create(0)) {
                vm.vm.createIrqchip(); // before the vCPU: configure() programs the in-kernel LAPIC
                vm.vcpus.add(vm.vm.createVcpu(0));
                VcpuFd vcpu = vm.vcpu(0);
                List<CpuidEntry> supported = vm.kvm.supportedCpuid();
                boolean hasLeafB = supported.stream().anyMatch(e -> e.function() == 0xb);
                vm.load(0x1000, REPORT_CPUID);
                VcpuSetup.configure(vcpu, supported, i, 3);
                ByteBuffer lapic = ByteBuffer.wrap(vcpu.getLapic()).order(ByteOrder.LITTLE_ENDIAN);
                assertEquals(0x700, lapic.getInt(VcpuSetup.APIC_LVT_LINT0) & 0x700, "LINT0 delivery mode ExtINT");
                assertEquals(1 << 16, lapic.getInt(VcpuSetup.APIC_LVT_LINT0) & (1 << 16), "LINT0 masked");
                assertEquals(0x400, lapic.getInt(VcpuSetup.APIC_LVT_LINT1) & 0x700, "LINT1 delivery mode NMI");
                vm.realMode(vcpu, 0x1000);
                List<Integer> reported = runUntilFourWords(vcpu);
                int ebx1 = reported.get(0);
                int ecx1 = reported.get(1);
                assertEquals(i, ebx1 >>> 24, "leaf 1 EBX[31:24] initial APIC ID");
                assertEquals(3, (ebx1 >>> 16) & 0xff, "leaf 1 EBX[23:16] logical processors");
                assertNotEquals(0, ecx1 & VcpuSetup.LEAF1_ECX_HYPERVISOR, "hypervisor bit");
                if (hasLeafB) {
                    assertEquals(3, reported.get(2) & 0xffff, "leaf 0xB core level: 3 logical processors");
                    assertEquals(i, reported.get(3), "leaf 0xB EDX x2APIC ID");
                }
            }
        }
    }

    private static List<Integer> runUntilFourWords(VcpuFd vcpu) {
        List<Integer> words = new ArrayList<>();
        while (words.size() < 4) {
            VcpuExit exit = vcpu.run();
            VcpuExit.IoOut out = assertInstanceOf(VcpuExit.IoOut.class, exit);
            assertEquals(0x510, out.port(), "vCPU " + vcpu.id() + ": " + out + " after " + words);
            words.add(ByteBuffer.wrap(out.data()).order(ByteOrder.LITTLE_ENDIAN).getInt());
        }
        return words;
    }
}
