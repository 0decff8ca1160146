package dev.ristretto.vmm.vcpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.ristretto.vmm.kvm.CpuidEntry;
import dev.ristretto.vmm.kvm.VcpuExit;
import dev.ristretto.vmm.kvm.VcpuFd;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The MINIMAL template on this host's KVM_GET_SUPPORTED_CPUID, checked by KVM and from inside the guest. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CpuTemplateIT {
    private static final int PORT = 0x510;

    /**
     * Real mode; reports CPUID.1:ECX, CPUID.(7,0):EBX, CPUID.(0xD,0):EAX and CPUID.0:EAX on port 0x510.
     * <pre>
     * mov eax, 1 ; cpuid ; mov dx, 0x510 ; mov eax, ecx ; out dx, eax
     * mov eax, 7 ; xor ecx, ecx ; cpuid ; mov dx, 0x510 ; mov eax, ebx ; out dx, eax
     * mov eax, 0xd ; xor ecx, ecx ; cpuid ; mov dx, 0x510 ; out dx, eax
     * xor eax, eax ; cpuid ; mov dx, 0x510 ; out dx, eax
     * 1: jmp 1b
     * </pre>
     * (assembled with GNU as, .code16)
     */
    private static final byte[] REPORT_CPUID = HexFormat.of().parseHex("66b8010000000fa2ba10056689c866ef66b807000000"
            + "6631c90fa2ba10056689d866ef66b80d0000006631c90fa2ba100566ef6631c00fa2ba100566efebfe");

    private static int reg(List<CpuidEntry> table, int function, int index, int register) {
        return table.stream().filter(e -> e.function() == function && e.index() == index).findFirst()
                .map(e -> switch (register) {
                    case 0 -> e.eax();
                    case 1 -> e.ebx();
                    case 2 -> e.ecx();
                    default -> e.edx();
                }).orElse(0);
    }

    @Test
    void minimalOnThisHostsTableOnlyClearsBitsAndKvmAcceptsIt() {
        try (TinyVm vm = TinyVm.create(0)) {
            vm.vm.createIrqchip(); // configure() programs the in-kernel LAPIC
            vm.vcpus.add(vm.vm.createVcpu(0));
            List<CpuidEntry> supported = vm.kvm.supportedCpuid();
            List<CpuidEntry> minimal = CpuTemplate.MINIMAL.apply(supported);
            for (CpuidEntry e : minimal) {
                if (e.function() == 0) {
                    continue; // the maximum basic leaf is a number, clamped rather than masked
                }
                CpuidEntry s = supported.stream().filter(x -> x.function() == e.function() && x.index() == e.index())
                        .findFirst().orElseThrow();
                assertEquals(0, (e.eax() & ~s.eax()) | (e.ebx() & ~s.ebx()) | (e.ecx() & ~s.ecx()) | (e.edx() & ~s.edx()),
                        "MINIMAL added a bit KVM does not support: " + e + " from " + s);
            }
            assertEquals(0, reg(minimal, 1, 0, 2) & (CpuTemplate.L1_ECX_AVX | CpuTemplate.L1_ECX_XSAVE));
            assertEquals(0, reg(minimal, 0xd, 0, 0));
            // KVM_SET_CPUID2 accepts the table (it rejects inconsistent ones, e.g. bad XSAVE sizes).
            VcpuSetup.configure(vm.vcpu(0), supported, 0, 1, CpuTemplate.MINIMAL);
        }
    }

    @Test
    void theGuestSeesTheMinimalBaseline() {
        List<Integer> host = guestView(CpuTemplate.HOST);
        List<CpuidEntry> supported;
        try (TinyVm vm = TinyVm.create(0)) {
            supported = vm.kvm.supportedCpuid();
        }
        List<CpuidEntry> hostTable = CpuTemplate.HOST.apply(supported);
        // Measured on this project's PVM host: the guest's CPUID answers leaf 7 and 0xD from the
        // host CPU, not from KVM_SET_CPUID2, so no template can change what such a guest sees.
        Assumptions.assumeTrue(host.get(1) == reg(hostTable, 7, 0, 1) && host.get(2) == reg(hostTable, 0xd, 0, 0),
                () -> String.format("this host's KVM does not apply KVM_SET_CPUID2 to the guest's CPUID instruction"
                        + " (with the host template the guest saw leaf 7 EBX=%08x, leaf 0xD EAX=%08x; KVM's table says"
                        + " %08x, %08x)", host.get(1), host.get(2), reg(hostTable, 7, 0, 1), reg(hostTable, 0xd, 0, 0)));

        List<Integer> seen = guestView(CpuTemplate.MINIMAL);
        List<CpuidEntry> minimal = CpuTemplate.MINIMAL.apply(supported);
        int ecx1 = seen.get(0);
        assertEquals(0, ecx1 & (CpuTemplate.L1_ECX_AVX | CpuTemplate.L1_ECX_XSAVE | CpuTemplate.L1_ECX_OSXSAVE),
                "AVX, XSAVE, OSXSAVE hidden: " + Integer.toHexString(ecx1));
        // The baseline bits the host's KVM has are still there.
        int baseline = CpuTemplate.L1_ECX_SSE3 | CpuTemplate.L1_ECX_SSSE3 | CpuTemplate.L1_ECX_CX16
                | CpuTemplate.L1_ECX_SSE4_1 | CpuTemplate.L1_ECX_SSE4_2 | CpuTemplate.L1_ECX_POPCNT;
        assertEquals(reg(supported, 1, 0, 2) & baseline, ecx1 & baseline, "SSE3..SSE4.2, CX16, POPCNT as KVM has them");
        assertEquals(CpuTemplate.L1_ECX_HYPERVISOR, ecx1 & CpuTemplate.L1_ECX_HYPERVISOR);
        assertEquals(0, ecx1 & ~CpuTemplate.L1_ECX_KEEP, "nothing outside the allow-list");
        assertEquals(reg(supported, 7, 0, 1) & CpuTemplate.L7_EBX_KEEP, seen.get(1), "leaf 7 EBX");
        assertEquals(0, seen.get(2), "leaf 0xD.0 EAX (XSAVE components) zero");
        assertEquals(reg(minimal, 0, 0, 0), seen.get(3), "maximum basic leaf");
    }

    /** What a fresh vCPU configured with {@code template} reports from CPUID. */
    private static List<Integer> guestView(CpuTemplate template) {
        try (TinyVm vm = TinyVm.create(0)) {
            vm.vm.createIrqchip();
            vm.vcpus.add(vm.vm.createVcpu(0));
            VcpuFd vcpu = vm.vcpu(0);
            VcpuSetup.configure(vcpu, vm.kvm.supportedCpuid(), 0, 1, template);
            vm.load(0x1000, REPORT_CPUID);
            vm.realMode(vcpu, 0x1000);
            return run(vcpu, 4);
        }
    }

    private static List<Integer> run(VcpuFd vcpu, int words) {
        List<Integer> out = new ArrayList<>();
        while (out.size() < words) {
            VcpuExit exit = vcpu.run();
            VcpuExit.IoOut io = assertInstanceOf(VcpuExit.IoOut.class, exit, () -> exit + " after " + out);
            assertEquals(PORT, io.port(), io.toString());
            out.add(ByteBuffer.wrap(io.data()).order(ByteOrder.LITTLE_ENDIAN).getInt());
        }
        return out;
    }
}
