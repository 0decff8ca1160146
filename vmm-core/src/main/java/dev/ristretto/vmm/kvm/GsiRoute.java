package dev.ristretto.vmm.kvm;

/**
 * One entry of a VM's GSI routing table (api.rst §4.52 KVM_SET_GSI_ROUTING, struct
 * kvm_irq_routing_entry). A GSI may have several irqchip routes (ISA IRQs reach both the PIC and
 * the IOAPIC) but at most one per chip, and an MSI route is the GSI's only route; KVM enforces
 * both (virt/kvm/irqchip.c, setup_routing_entry).
 */
public sealed interface GsiRoute permits GsiRoute.Irqchip, GsiRoute.Msi {

    /** The global system interrupt this route belongs to (KVM_IRQ_LINE and KVM_IRQFD name it). */
    int gsi();

    /** A GSI wired to a pin of the in-kernel PIC or IOAPIC (KVM_IRQ_ROUTING_IRQCHIP). */
    record Irqchip(int gsi, int chip, int pin) implements GsiRoute {
        /** KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE and KVM_IRQCHIP_IOAPIC (asm/kvm.h). */
        public static final int PIC_MASTER = 0;
        public static final int PIC_SLAVE = 1;
        public static final int IOAPIC = 2;
        /** Each 8259A has 8 inputs; KVM's IOAPIC has KVM_IOAPIC_NUM_PINS = 24 (arch/x86/kvm/ioapic.h). */
        public static final int PIC_PINS = 8;
        public static final int IOAPIC_PINS = 24;

        public Irqchip {
            checkGsi(gsi);
            int pins = switch (chip) {
                case PIC_MASTER, PIC_SLAVE -> PIC_PINS;
                case IOAPIC -> IOAPIC_PINS;
                default -> throw new IllegalArgumentException("irqchip " + chip + " is not PIC master (0), PIC slave (1) "
                        + "or IOAPIC (2)");
            };
            if (pin < 0 || pin >= pins) {
                throw new IllegalArgumentException("irqchip " + chip + " has pins 0.." + (pins - 1) + ", not " + pin);
            }
        }
    }

    /**
     * A GSI that sends an MSI message (KVM_IRQ_ROUTING_MSI): {@code address} is the 64-bit
     * message address (on x86, 0xFEExxxxx names the destination LAPIC, SDM vol 3 §11.11.1),
     * {@code data} the message data (vector and delivery mode, §11.11.2).
     */
    record Msi(int gsi, long address, int data) implements GsiRoute {
        public Msi {
            checkGsi(gsi);
        }

        @Override
        public String toString() {
            return "Msi[gsi=" + gsi + ", address=0x" + Long.toHexString(address) + ", data=0x" + Integer.toHexString(data) + "]";
        }
    }

    private static void checkGsi(int gsi) {
        if (gsi < 0) {
            throw new IllegalArgumentException("negative GSI " + gsi);
        }
    }
}
