/**
 * Everything that touches the host kernel and the generic VM engine: guest memory, the I/O and
 * MMIO buses, interrupt lines, the FFM bindings to libc and the KVM API, and the vCPU run loop.
 * Native access is confined to this module; its libc bindings (dev.ristretto.vmm.sys) stay
 * internal.
 */
module ristretto.vmm.core {
    exports dev.ristretto.vmm.memory;
    exports dev.ristretto.vmm.device;
    exports dev.ristretto.vmm.kvm;
    exports dev.ristretto.vmm.host;
    exports dev.ristretto.vmm.host.io;
    exports dev.ristretto.vmm.vcpu;
    exports dev.ristretto.vmm.irq;
    exports dev.ristretto.vmm.check;
}
