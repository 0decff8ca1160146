package dev.ristretto.vmm.check;

import dev.ristretto.vmm.check.HostFacts.KvmDeviceState;
import dev.ristretto.vmm.check.NativeProbe.Outcome;
import dev.ristretto.vmm.kvm.Capability;
import java.util.ArrayList;
import java.util.List;

/**
 * The verdict on a host: a pure function from {@link HostFacts} to a {@link CheckReport}.
 * Ristretto can boot a full Linux guest exactly when /dev/kvm opens, speaks API version 12, has
 * every {@link Capability} and runs the {@link NativeProbe} guest natively; hugepages, TAP and
 * passt only warn, because a guest boots without them.
 */
public final class HostCheck {
    /** KVM_GET_API_VERSION's only value since Linux 2.6.22 (api.rst §4.1). */
    static final int KVM_API_VERSION = 12;

    static final String KVM_GROUP_FIX = "add your user to the kvm group (sudo usermod -aG kvm $USER, then log in"
            + " again), or give the group access with a udev rule: KERNEL==\"kvm\", GROUP=\"kvm\", MODE=\"0660\""
            + " in /etc/udev/rules.d/65-kvm.rules";
    static final String NATIVE_FIX = "run Ristretto on a host with VT-x/AMD-V, or in a VM with nested"
            + " virtualization enabled (vmx or svm in its /proc/cpuinfo: on the outer host kvm_intel nested=1 or"
            + " kvm_amd nested=1, and the VM's CPU model passing vmx/svm through)";

    private HostCheck() {
    }

    public static CheckReport evaluate(HostFacts facts) {
        VirtualizationKind kind = VirtualizationKind.of(facts.cpu());
        List<Finding> findings = new ArrayList<>();
        boolean open = facts.kvm().state() == KvmDeviceState.OPEN;
        String notChecked = "not checked: " + facts.kvm().path() + " is unavailable";

        findings.add(kvmDevice(facts, kind));
        if (open && facts.apiVersion().isPresent()) {
            int v = facts.apiVersion().getAsInt();
            findings.add(v == KVM_API_VERSION ? Finding.ok("KVM API version", Integer.toString(v))
                    : Finding.fail("KVM API version", v + ", not " + KVM_API_VERSION,
                            "use a host kernel whose KVM speaks API version 12 (any Linux since 2.6.22)"));
        } else {
            findings.add(Finding.skip("KVM API version", notChecked));
        }
        for (Capability c : Capability.values()) {
            Boolean present = facts.capabilities().get(c);
            if (!open || present == null) {
                findings.add(Finding.skip(c.headerName(), notChecked));
            } else if (present) {
                findings.add(Finding.ok(c.headerName(), "present"));
            } else {
                findings.add(Finding.fail(c.headerName(), "missing",
                        "update the host kernel (Linux 4.11 or newer provides every capability Ristretto uses)"));
            }
        }
        if (open && facts.maxVcpus().isPresent()) {
            findings.add(Finding.ok("max vCPUs", Integer.toString(facts.maxVcpus().getAsInt())));
        } else {
            findings.add(Finding.skip("max vCPUs", notChecked));
        }
        findings.add(virtualization(facts, kind));
        findings.add(nativeGuests(facts, kind));
        findings.add(hugePages(facts.hugePages()));
        findings.add(tap(facts.tap()));
        findings.add(facts.passt().map(p -> Finding.ok("passt", "installed at " + p))
                .orElseGet(() -> Finding.warn("passt", "not installed; --net user needs it",
                        "sudo apt-get install passt (or your distribution's passt package)")));

        String reason = reason(findings, kind);
        return new CheckReport(List.copyOf(findings), kind, facts.probe().outcome(), reason.isEmpty(),
                reason.isEmpty() ? "Ristretto can boot a full Linux guest on this host" : reason, facts);
    }

    private static Finding kvmDevice(HostFacts facts, VirtualizationKind kind) {
        String path = facts.kvm().path();
        return switch (facts.kvm().state()) {
            case OPEN -> Finding.ok(path, "present, readable and writable");
            case MISSING -> Finding.fail(path, "missing: no KVM module is loaded", missingKvmFix(facts.cpu()));
            case NO_PERMISSION -> Finding.fail(path, "present but not readable and writable by this user",
                    KVM_GROUP_FIX);
            case ERROR -> Finding.fail(path, facts.kvm().message(), kind == VirtualizationKind.NONE
                    ? missingKvmFix(facts.cpu()) : "check the host kernel's KVM (dmesg | grep -i kvm)");
        };
    }

    /** What to do when there is no /dev/kvm, from what the CPU flags say is possible. */
    static String missingKvmFix(HostFacts.CpuInfo cpu) {
        if (cpu.flags().contains("vmx")) {
            return "load KVM: sudo modprobe kvm_intel";
        }
        if (cpu.flags().contains("svm")) {
            return "load KVM: sudo modprobe kvm_amd";
        }
        if (cpu.underHypervisor()) {
            return "this is a VM without nested virtualization: enable it on the outer host (kvm_intel nested=1"
                    + " or kvm_amd nested=1, and a CPU model that passes vmx/svm through), then sudo modprobe"
                    + " kvm_intel or kvm_amd here";
        }
        return "enable VT-x/AMD-V (\"Intel Virtualization Technology\" / \"SVM mode\") in the firmware settings,"
                + " then sudo modprobe kvm_intel or kvm_amd";
    }

    private static Finding virtualization(HostFacts facts, VirtualizationKind kind) {
        HostFacts.CpuInfo cpu = facts.cpu();
        String evidence = switch (kind) {
            case HARDWARE -> cpuFlag(cpu) + " flag, no hypervisor flag";
            case NESTED -> cpuFlag(cpu) + " and hypervisor flags";
            case SOFTWARE_PVM -> "kvm_pvm loaded, " + (cpu.hardwareVirtualization() ? cpuFlag(cpu) + " flag but no"
                    + " kvm_intel/kvm_amd" : "no vmx/svm flag");
            case NONE -> cpu.kvmModules().isEmpty() ? "no KVM module loaded" : "modules " + String.join(", ",
                    cpu.kvmModules().stream().sorted().toList());
        };
        String detail = kind.description() + ": " + evidence;
        return switch (kind) {
            case HARDWARE, NESTED -> Finding.ok("virtualization", detail);
            case SOFTWARE_PVM -> Finding.warn("virtualization", detail, "");
            case NONE -> facts.kvm().state() == KvmDeviceState.OPEN
                    ? Finding.warn("virtualization", detail, "")
                    : Finding.fail("virtualization", detail, missingKvmFix(cpu));
        };
    }

    private static String cpuFlag(HostFacts.CpuInfo cpu) {
        return cpu.flags().contains("vmx") ? "vmx" : "svm";
    }

    private static Finding nativeGuests(HostFacts facts, VirtualizationKind kind) {
        String name = "unmodified guests";
        NativeProbe.Result probe = facts.probe();
        return switch (probe.outcome()) {
            case NATIVE -> Finding.ok(name, "run natively: " + probe.detail());
            case EMULATION_ONLY -> Finding.fail(name, "cannot run natively: " + probe.detail()
                    + (kind == VirtualizationKind.SOFTWARE_PVM ? "; PVM runs only PVM-enabled guest kernels natively" : ""),
                    NATIVE_FIX);
            case INCONCLUSIVE -> Finding.fail(name, "could not be confirmed to run natively: " + probe.detail(),
                    "report this with the output of ristretto check --json");
            case NOT_RUN -> Finding.skip(name, probe.detail().isEmpty() ? "not checked" : probe.detail());
        };
    }

    /**
     * Guest RAM is an ordinary anonymous mapping (HostMemory: no MAP_HUGETLB, no madvise), so
     * today only transparent hugepages in "always" mode back it with huge pages; a reserved
     * hugetlbfs pool is reported for when guest RAM can use it.
     */
    static Finding hugePages(HostFacts.HugePages h) {
        String pool = h.total() > 0
                ? h.free() + " of " + h.total() + " hugetlbfs pages free (" + h.pageSizeKb() + " KiB each)"
                : "no hugetlbfs pages reserved";
        String thp = h.thpMode().isEmpty() ? "transparent hugepages unavailable" : "transparent hugepages: " + h.thpMode();
        String detail = pool + "; " + thp;
        if (h.thpMode().equals("always")) {
            return Finding.ok("hugepages", detail);
        }
        return Finding.warn("hugepages", detail + " (guest RAM uses small pages: slower, not broken)",
                "echo always | sudo tee /sys/kernel/mm/transparent_hugepage/enabled");
    }

    /**
     * TUNSETIFF on /dev/net/tun creates a TAP device only with CAP_NET_ADMIN (drivers/net/tun.c
     * tun_set_iff); without it only a persistent device made for this user in advance attaches.
     */
    static Finding tap(HostFacts.TapAccess t) {
        String name = "TAP networking";
        if (!t.tunOpenable()) {
            return Finding.warn(name, "/dev/net/tun cannot be opened: " + t.tunError(),
                    "sudo modprobe tun; the node should be mode 0666 (sudo chmod 0666 /dev/net/tun); or use --net user");
        }
        if (t.capNetAdmin()) {
            return Finding.ok(name, "/dev/net/tun opens and this process has CAP_NET_ADMIN");
        }
        return Finding.warn(name, "/dev/net/tun opens, but without CAP_NET_ADMIN only TAP devices made for this user"
                + " in advance attach", "sudo ip tuntap add dev tap0 mode tap user $USER; or use --net user (passt)");
    }

    /** Empty when nothing FAILs; otherwise the one sentence the command ends with. */
    private static String reason(List<Finding> findings, VirtualizationKind kind) {
        List<Finding> failed = findings.stream().filter(f -> f.status() == Finding.Status.FAIL).toList();
        if (failed.isEmpty()) {
            return "";
        }
        Finding first = failed.getFirst();
        String why = first.name().equals("unmodified guests") && kind == VirtualizationKind.SOFTWARE_PVM
                ? "this host's KVM is software-emulated (PVM), so unmodified guests cannot run natively"
                : first.name() + ": " + first.detail();
        return "Ristretto cannot boot a full Linux guest here: " + why
                + (failed.size() > 1 ? " (and " + (failed.size() - 1) + " more FAIL above)" : "");
    }
}
