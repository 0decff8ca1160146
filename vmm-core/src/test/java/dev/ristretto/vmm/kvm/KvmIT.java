package dev.ristretto.vmm.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.host.HostMemory;
import dev.ristretto.vmm.memory.RamRange;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.sys.Errno;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The system and VM ioctls against the host's /dev/kvm. */
class KvmIT {

    @Test
    void systemIoctls() {
        try (Kvm kvm = KvmTestSupport.openOrSkip()) {
            assertEquals(12, kvm.apiVersion());
            kvm.requireAllCapabilities(); // everything in Capability: the machine module relies on all of it
            assertTrue(kvm.maxVcpus() >= kvm.recommendedVcpus(), "max " + kvm.maxVcpus() + " < recommended");
            assertTrue(kvm.vcpuMmapSize() >= 4096);
            List<CpuidEntry> cpuid = kvm.supportedCpuid();
            assertTrue(cpuid.stream().anyMatch(e -> e.function() == 0), "no leaf 0 in " + cpuid);
            assertTrue(cpuid.stream().anyMatch(e -> e.function() == 1), "no leaf 1");
            // KVM's own signature leaf (api.rst §4.46, "KVMKVMKVM\0\0\0" in EBX, ECX, EDX).
            CpuidEntry sig = cpuid.stream().filter(e -> e.function() == 0x4000_0000).findFirst().orElseThrow();
            assertEquals(0x4b4d564b, sig.ebx()); // "KVMK"
        }
    }

    @Test
    @SuppressWarnings("try") // the vCPU is closed inside its try block to test use after close
    void vmSetupIoctlsAndLifecycle() {
        try (Kvm kvm = KvmTestSupport.openOrSkip();
             VmFd vm = kvm.createVm();
             HostMemory ram = HostMemory.mapAnonymous(List.of(new RamRange(GuestAddress.of(0), 1 << 20)))) {
            vm.setTssAddr(GuestAddress.of(0xfffb_d000L));
            vm.setIdentityMapAddr(GuestAddress.of(0xfffb_c000L));
            vm.createIrqchip();
            vm.createPit2();
            vm.setUserMemoryRegion(0, GuestAddress.of(0), ram.guestMemory().regions().get(0).segment(), 0);
            vm.irqLine(4).set(true);
            vm.irqLine(4).set(false);
            // A second irqchip is refused with EEXIST: errno and ioctl name reach the caller.
            KvmException e = assertThrows(KvmException.class, vm::createIrqchip);
            assertEquals("KVM_CREATE_IRQCHIP", e.ioctl());
            assertEquals(Errno.EEXIST, e.errno());
            try (VcpuFd vcpu = vm.createVcpu(0)) {
                assertEquals(0, vcpu.id());
                assertEquals(VcpuFd.LAPIC_SIZE, vcpu.getLapic().length);
                // The reset state (SDM vol 3 §9.1.1): CS.base 0xffff0000, RIP 0xfff0.
                assertEquals(0xffff_0000L, vcpu.getSregs().cs().base());
                assertEquals(0xfff0L, vcpu.getRegs().rip());
                Regs regs = vcpu.getRegs().withRax(0x1122_3344_5566_7788L).withRip(0x1000);
                vcpu.setRegs(regs);
                assertEquals(regs, vcpu.getRegs());
                Sregs sregs = vcpu.getSregs();
                Sregs moved = sregs.withCs(sregs.cs().withBase(0).withSelector(0));
                vcpu.setSregs(moved);
                assertEquals(moved.cs(), vcpu.getSregs().cs());
                // KVM_SET_MSRS stops at the first MSR it refuses and reports how many it set.
                Map<Integer, Long> msrs = new LinkedHashMap<>();
                msrs.put(0x174, 0L); // IA32_SYSENTER_CS
                msrs.put(0x4b56_0000, 1L); // no such MSR
                KvmException refused = assertThrows(KvmException.class, () -> vcpu.setMsrs(msrs));
                assertTrue(refused.getMessage().contains("set 1 of 2 MSRs; it refused MSR 0x4b560000 = 0x1"),
                        refused.getMessage());
                assertFalse(vcpu.immediateExit());
                vcpu.setImmediateExit(true);
                assertTrue(vcpu.immediateExit());
                // With immediate_exit set, KVM_RUN returns EINTR without entering the guest.
                assertEquals(new VcpuExit.Interrupted(), vcpu.run());
                vcpu.close();
                assertThrows(IllegalStateException.class, vcpu::getRegs);
            }
        }
    }

    @Test
    void missingDeviceNodeExplainsTheFix() {
        KvmUnavailableException e = assertThrows(KvmUnavailableException.class,
                () -> Kvm.open("/nonexistent/kvm"));
        assertTrue(e.getMessage().contains("load kvm_intel/kvm_amd, enable VT-x/AMD-V in the firmware, "
                + "or enable nested virtualization in the host's settings"), e.getMessage());
    }
}
