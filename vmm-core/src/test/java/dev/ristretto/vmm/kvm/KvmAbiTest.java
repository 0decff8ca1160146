package dev.ristretto.vmm.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ristretto.vmm.sys.CProbe;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.StructLayout;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every ioctl number, constant, struct size and field offset in {@link KvmAbi} against
 * linux/kvm.h as gcc sees it, plus a few anchors that hold even where gcc is missing.
 */
class KvmAbiTest {
    private final Map<String, Long> java = new LinkedHashMap<>();
    private final Map<String, String> c = new LinkedHashMap<>();

    private void check(String cExpr, long value) {
        String key = "k" + c.size() + "_" + cExpr.replaceAll("[^A-Za-z0-9_]+", "_");
        java.put(key, value);
        c.put(key, cExpr);
    }

    /** sizeof the struct and offsetof/sizeof every named member, recursively for nested structs. */
    private void checkStruct(String cType, StructLayout layout) {
        check("sizeof(" + cType + ")", layout.byteSize());
        checkMembers(cType, "", layout, 0);
    }

    private void checkMembers(String cType, String prefix, StructLayout layout, long base) {
        for (MemoryLayout m : layout.memberLayouts()) {
            if (m instanceof PaddingLayout || m.name().isEmpty()) {
                continue;
            }
            String path = prefix + m.name().get();
            long off = base + layout.byteOffset(groupElement(m.name().get()));
            check("offsetof(" + cType + ", " + path + ")", off);
            check("sizeof(((" + cType + " *)0)->" + path + ")", m.byteSize());
            if (m instanceof StructLayout nested) {
                checkMembers(cType, path + ".", nested, off);
            }
        }
    }

    @Test
    void abiMatchesTheKernelHeaders() throws Exception {
        check("KVM_GET_API_VERSION", KvmAbi.KVM_GET_API_VERSION);
        check("KVM_CREATE_VM", KvmAbi.KVM_CREATE_VM);
        check("KVM_CHECK_EXTENSION", KvmAbi.KVM_CHECK_EXTENSION);
        check("KVM_GET_VCPU_MMAP_SIZE", KvmAbi.KVM_GET_VCPU_MMAP_SIZE);
        check("KVM_GET_SUPPORTED_CPUID", KvmAbi.KVM_GET_SUPPORTED_CPUID);
        check("KVM_CREATE_VCPU", KvmAbi.KVM_CREATE_VCPU);
        check("KVM_SET_USER_MEMORY_REGION", KvmAbi.KVM_SET_USER_MEMORY_REGION);
        check("KVM_SET_TSS_ADDR", KvmAbi.KVM_SET_TSS_ADDR);
        check("KVM_SET_IDENTITY_MAP_ADDR", KvmAbi.KVM_SET_IDENTITY_MAP_ADDR);
        check("KVM_CREATE_IRQCHIP", KvmAbi.KVM_CREATE_IRQCHIP);
        check("KVM_IRQ_LINE", KvmAbi.KVM_IRQ_LINE);
        check("KVM_CREATE_PIT2", KvmAbi.KVM_CREATE_PIT2);
        check("KVM_RUN", KvmAbi.KVM_RUN);
        check("KVM_GET_REGS", KvmAbi.KVM_GET_REGS);
        check("KVM_SET_REGS", KvmAbi.KVM_SET_REGS);
        check("KVM_GET_SREGS", KvmAbi.KVM_GET_SREGS);
        check("KVM_SET_SREGS", KvmAbi.KVM_SET_SREGS);
        check("KVM_TRANSLATE", KvmAbi.KVM_TRANSLATE);
        check("KVM_SET_MSRS", KvmAbi.KVM_SET_MSRS);
        check("KVM_SET_FPU", KvmAbi.KVM_SET_FPU);
        check("KVM_GET_LAPIC", KvmAbi.KVM_GET_LAPIC);
        check("KVM_SET_LAPIC", KvmAbi.KVM_SET_LAPIC);
        check("KVM_SET_CPUID2", KvmAbi.KVM_SET_CPUID2);
        check("KVM_IOEVENTFD", KvmAbi.KVM_IOEVENTFD);
        check("KVM_IRQFD", KvmAbi.KVM_IRQFD);
        check("KVM_SET_GSI_ROUTING", KvmAbi.KVM_SET_GSI_ROUTING);
        check("KVM_SIGNAL_MSI", KvmAbi.KVM_SIGNAL_MSI);
        check("KVM_IOEVENTFD_FLAG_DATAMATCH", KvmAbi.KVM_IOEVENTFD_FLAG_DATAMATCH);
        check("KVM_IOEVENTFD_FLAG_PIO", KvmAbi.KVM_IOEVENTFD_FLAG_PIO);
        check("KVM_IOEVENTFD_FLAG_DEASSIGN", KvmAbi.KVM_IOEVENTFD_FLAG_DEASSIGN);
        check("KVM_IRQFD_FLAG_DEASSIGN", KvmAbi.KVM_IRQFD_FLAG_DEASSIGN);
        check("KVM_IRQ_ROUTING_IRQCHIP", KvmAbi.KVM_IRQ_ROUTING_IRQCHIP);
        check("KVM_IRQ_ROUTING_MSI", KvmAbi.KVM_IRQ_ROUTING_MSI);
        check("KVM_IRQCHIP_PIC_MASTER", GsiRoute.Irqchip.PIC_MASTER);
        check("KVM_IRQCHIP_PIC_SLAVE", GsiRoute.Irqchip.PIC_SLAVE);
        check("KVM_IRQCHIP_IOAPIC", GsiRoute.Irqchip.IOAPIC);
        check("KVM_IOAPIC_NUM_PINS", GsiRoute.Irqchip.IOAPIC_PINS);

        check("KVM_API_VERSION", KvmAbi.KVM_API_VERSION);
        check("KVM_CAP_NR_VCPUS", KvmAbi.KVM_CAP_NR_VCPUS);
        check("KVM_CAP_MAX_VCPUS", KvmAbi.KVM_CAP_MAX_VCPUS);
        for (Capability cap : Capability.values()) {
            check(cap.headerName(), cap.number());
        }
        check("KVM_PIT_SPEAKER_DUMMY", KvmAbi.KVM_PIT_SPEAKER_DUMMY);
        check("KVM_CPUID_FLAG_SIGNIFCANT_INDEX", CpuidEntry.FLAG_SIGNIFICANT_INDEX);
        check("KVM_MEM_LOG_DIRTY_PAGES", VmFd.MEM_LOG_DIRTY_PAGES);
        check("KVM_MEM_READONLY", VmFd.MEM_READONLY);
        check("KVM_EXIT_UNKNOWN", KvmAbi.KVM_EXIT_UNKNOWN);
        check("KVM_EXIT_EXCEPTION", KvmAbi.KVM_EXIT_EXCEPTION);
        check("KVM_EXIT_IO", KvmAbi.KVM_EXIT_IO);
        check("KVM_EXIT_IO_IN", KvmAbi.EXIT_IO_IN);
        check("KVM_EXIT_IO_OUT", KvmAbi.EXIT_IO_OUT);
        check("KVM_EXIT_DEBUG", KvmAbi.KVM_EXIT_DEBUG);
        check("KVM_EXIT_HLT", KvmAbi.KVM_EXIT_HLT);
        check("KVM_EXIT_MMIO", KvmAbi.KVM_EXIT_MMIO);
        check("KVM_EXIT_SHUTDOWN", KvmAbi.KVM_EXIT_SHUTDOWN);
        check("KVM_EXIT_FAIL_ENTRY", KvmAbi.KVM_EXIT_FAIL_ENTRY);
        check("KVM_EXIT_INTR", KvmAbi.KVM_EXIT_INTR);
        check("KVM_EXIT_INTERNAL_ERROR", KvmAbi.KVM_EXIT_INTERNAL_ERROR);
        check("KVM_EXIT_SYSTEM_EVENT", KvmAbi.KVM_EXIT_SYSTEM_EVENT);
        check("KVM_SYSTEM_EVENT_SHUTDOWN", VcpuExit.SystemEvent.SHUTDOWN);
        check("KVM_SYSTEM_EVENT_RESET", VcpuExit.SystemEvent.RESET);
        check("KVM_SYSTEM_EVENT_CRASH", VcpuExit.SystemEvent.CRASH);
        check("KVM_INTERNAL_ERROR_EMULATION", VcpuExit.InternalError.EMULATION);
        check("KVM_INTERNAL_ERROR_SIMUL_EX", VcpuExit.InternalError.SIMUL_EX);
        check("KVM_INTERNAL_ERROR_DELIVERY_EV", VcpuExit.InternalError.DELIVERY_EV);
        check("KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON", VcpuExit.InternalError.UNEXPECTED_EXIT_REASON);

        checkStruct("struct kvm_userspace_memory_region", KvmAbi.USERSPACE_MEMORY_REGION);
        checkStruct("struct kvm_regs", KvmAbi.REGS);
        checkStruct("struct kvm_segment", KvmAbi.SEGMENT);
        checkStruct("struct kvm_dtable", KvmAbi.DTABLE);
        checkStruct("struct kvm_sregs", KvmAbi.SREGS);
        checkStruct("struct kvm_fpu", KvmAbi.FPU);
        checkStruct("struct kvm_msrs", KvmAbi.MSRS_HEADER);
        checkStruct("struct kvm_msr_entry", KvmAbi.MSR_ENTRY);
        checkStruct("struct kvm_cpuid2", KvmAbi.CPUID2_HEADER);
        checkStruct("struct kvm_cpuid_entry2", KvmAbi.CPUID_ENTRY2);
        checkStruct("struct kvm_lapic_state", KvmAbi.LAPIC_STATE);
        checkStruct("struct kvm_translation", KvmAbi.TRANSLATION);
        checkStruct("struct kvm_irq_level", KvmAbi.IRQ_LEVEL);
        checkStruct("struct kvm_pit_config", KvmAbi.PIT_CONFIG);
        checkStruct("struct kvm_ioeventfd", KvmAbi.IOEVENTFD);
        checkStruct("struct kvm_irqfd", KvmAbi.IRQFD);
        checkStruct("struct kvm_irq_routing", KvmAbi.IRQ_ROUTING_HEADER);
        check("offsetof(struct kvm_irq_routing, entries)", KvmAbi.IRQ_ROUTING_HEADER.byteSize());
        checkStruct("struct kvm_irq_routing_entry", KvmAbi.IRQ_ROUTING_ENTRY);
        long union = KvmAbi.IRQ_ROUTING_ENTRY.byteOffset(groupElement("u"));
        checkMembers("struct kvm_irq_routing_entry", "u.irqchip.", KvmAbi.ROUTE_IRQCHIP, union);
        checkMembers("struct kvm_irq_routing_entry", "u.msi.", KvmAbi.ROUTE_MSI, union);
        checkStruct("struct kvm_msi", KvmAbi.MSI);
        // kvm_run: the fixed header, then each exit's member of the union at RUN_EXIT_UNION.
        checkMembers("struct kvm_run", "", KvmAbi.RUN_HEADER, 0);
        check("offsetof(struct kvm_run, io)", KvmAbi.RUN_EXIT_UNION);
        checkMembers("struct kvm_run", "io.", KvmAbi.RUN_IO, KvmAbi.RUN_EXIT_UNION);
        checkMembers("struct kvm_run", "mmio.", KvmAbi.RUN_MMIO, KvmAbi.RUN_EXIT_UNION);
        checkMembers("struct kvm_run", "fail_entry.", KvmAbi.RUN_FAIL_ENTRY, KvmAbi.RUN_EXIT_UNION);
        checkMembers("struct kvm_run", "internal.", KvmAbi.RUN_INTERNAL, KvmAbi.RUN_EXIT_UNION);
        checkMembers("struct kvm_run", "system_event.", KvmAbi.RUN_SYSTEM_EVENT, KvmAbi.RUN_EXIT_UNION);
        checkMembers("struct kvm_run", "debug.arch.", KvmAbi.RUN_DEBUG, KvmAbi.RUN_EXIT_UNION);

        Map<String, Long> header = CProbe.evaluate(List.of("linux/kvm.h"), c);
        assertEquals(java, header);
    }

    /** Values quoted in the KVM documentation and ARCHITECTURE.md; hold without gcc. */
    @Test
    void anchors() {
        assertEquals(0xAE80L, KvmAbi.KVM_RUN);
        assertEquals(0xAE01L, KvmAbi.KVM_CREATE_VM);
        assertEquals(0x4020AE46L, KvmAbi.KVM_SET_USER_MEMORY_REGION);
        assertEquals(0x8090AE81L, KvmAbi.KVM_GET_REGS);
        assertEquals(0x4138AE84L, KvmAbi.KVM_SET_SREGS);
        assertEquals(0xC008AE05L, KvmAbi.KVM_GET_SUPPORTED_CPUID);
        assertEquals(32, KvmAbi.USERSPACE_MEMORY_REGION.byteSize());
        assertEquals(144, KvmAbi.REGS.byteSize());
        assertEquals(312, KvmAbi.SREGS.byteSize());
        assertEquals(24, KvmAbi.SEGMENT.byteSize());
        assertEquals(416, KvmAbi.FPU.byteSize());
        assertEquals(40, KvmAbi.CPUID_ENTRY2.byteSize());
        assertEquals(1024, KvmAbi.LAPIC_STATE.byteSize());
        assertEquals(64, KvmAbi.PIT_CONFIG.byteSize());
        assertEquals(24, KvmAbi.TRANSLATION.byteSize());
        // api.rst §4.52/4.59/4.75/4.113 and linux/kvm.h as of 6.x.
        assertEquals(0x4040AE79L, KvmAbi.KVM_IOEVENTFD);
        assertEquals(0x4020AE76L, KvmAbi.KVM_IRQFD);
        assertEquals(0x4008AE6AL, KvmAbi.KVM_SET_GSI_ROUTING);
        assertEquals(0x4020AEA5L, KvmAbi.KVM_SIGNAL_MSI);
        assertEquals(64, KvmAbi.IOEVENTFD.byteSize());
        assertEquals(32, KvmAbi.IRQFD.byteSize());
        assertEquals(48, KvmAbi.IRQ_ROUTING_ENTRY.byteSize());
        assertEquals(32, KvmAbi.MSI.byteSize());
    }
}
