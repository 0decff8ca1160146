package dev.ristretto.vmm.check;

import java.util.Locale;

/** How this host's KVM runs guests. */
public enum VirtualizationKind {
    /** VT-x or AMD-V on bare metal (vmx/svm flag, no hypervisor flag). */
    HARDWARE("hardware (VT-x/AMD-V)"),
    /** VT-x or AMD-V passed through by the hypervisor this host itself runs under. */
    NESTED("nested (VT-x/AMD-V inside a VM)"),
    /** PVM (kvm_pvm) without VT-x/AMD-V: only PVM-enabled kernels run natively, the rest is emulated. */
    SOFTWARE_PVM("software-emulated (PVM)"),
    /** No vmx/svm flag and no kvm_pvm module: this host cannot run KVM guests. */
    NONE("none (no VT-x/AMD-V flag, no kvm_pvm)");

    private final String description;

    VirtualizationKind(String description) {
        this.description = description;
    }

    /** The phrase the report prints, e.g. "software-emulated (PVM)". */
    public String description() {
        return description;
    }

    /** The JSON name, e.g. "software-pvm". */
    public String jsonName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /**
     * The kind the CPU flags and loaded modules show. A KVM vendor module is exclusive (one
     * kvm_x86_ops per kernel), so kvm_pvm loaded without kvm_intel/kvm_amd means /dev/kvm is
     * PVM even if a vmx/svm flag were visible; otherwise the vmx/svm flag decides, and the
     * hypervisor flag (CPUID.1:ECX[31]) tells nested from bare metal.
     */
    public static VirtualizationKind of(HostFacts.CpuInfo cpu) {
        boolean hardwareModule = cpu.kvmModules().contains("kvm_intel") || cpu.kvmModules().contains("kvm_amd");
        if (cpu.pvm() && !hardwareModule) {
            return SOFTWARE_PVM;
        }
        if (cpu.hardwareVirtualization()) {
            return cpu.underHypervisor() ? NESTED : HARDWARE;
        }
        return NONE;
    }
}
