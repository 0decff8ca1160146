package dev.ristretto.vmm.kvm;

/**
 * The KVM capabilities Ristretto relies on (linux/kvm.h KVM_CAP_*; api.rst §4.4 KVM_CHECK_EXTENSION
 * and §8). Numbers are checked against the kernel headers by KvmAbiTest.
 */
public enum Capability {
    /** In-kernel PIC, IOAPIC and LAPIC (KVM_CREATE_IRQCHIP, KVM_IRQ_LINE). */
    IRQCHIP(0),
    /** HLT is handled in the kernel (KVM_EXIT_HLT only without the in-kernel LAPIC). */
    HLT(1),
    /** KVM_SET_USER_MEMORY_REGION: guest RAM is our own mmap. */
    USER_MEMORY(3),
    /** KVM_SET_TSS_ADDR, needed on Intel before the first KVM_RUN (api.rst §4.39). */
    SET_TSS_ADDR(4),
    /** KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2. */
    EXT_CPUID(7),
    /**
     * KVM_SET_GSI_ROUTING (api.rst §4.52); KVM_CHECK_EXTENSION answers the number of routes a VM
     * may have (KVM_MAX_IRQ_ROUTES), which also bounds the GSI numbers.
     */
    IRQ_ROUTING(25),
    /** KVM_IRQFD (api.rst §4.75): an eventfd write injects an interrupt without a vCPU exit. */
    IRQFD(32),
    /** KVM_CREATE_PIT2 with flags (KVM_PIT_SPEAKER_DUMMY). */
    PIT2(33),
    /** KVM_IOEVENTFD (api.rst §4.59): guest doorbell writes signal an eventfd inside KVM. */
    IOEVENTFD(36),
    /** KVM_SET_IDENTITY_MAP_ADDR (api.rst §4.51). */
    SET_IDENTITY_MAP_ADDR(37),
    /** KVM_SIGNAL_MSI (api.rst §4.113): inject one MSI message directly. */
    SIGNAL_MSI(77),
    /** kvm_run.immediate_exit: the race-free way to kick a vCPU out of KVM_RUN (api.rst §5). */
    IMMEDIATE_EXIT(136);

    private final int number;

    Capability(int number) {
        this.number = number;
    }

    /** The KVM_CAP_* number passed to KVM_CHECK_EXTENSION. */
    public int number() {
        return number;
    }

    /** The header's name, e.g. "KVM_CAP_IMMEDIATE_EXIT". */
    public String headerName() {
        return "KVM_CAP_" + name();
    }
}
