package dev.ristretto.tests.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ristretto.tests.nested.DebianArchiveUnreachableException;
import dev.ristretto.tests.nested.ExecResult;
import dev.ristretto.tests.nested.GuestImages;
import dev.ristretto.tests.nested.HardwareKvmHost;
import dev.ristretto.tests.nested.HostTools;
import dev.ristretto.tests.nested.NeedsHardwareKvm;
import dev.ristretto.tests.nested.Repository;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The full boot: Ristretto, through its real command line, boots Debian's kernels with the
 * busybox guest initramfs on KVM with hardware semantics — this host's if it has them, otherwise
 * inside the nested test host (L1: QEMU TCG with SVM, kvm_amd). The guest's init prints its marker
 * with the kernel version and CPU count, then runs {@code reboot -f} or {@code poweroff -f}; either
 * must end Ristretto with exit code 0. Four boots share one L1:
 * <ul>
 *   <li>cloud kernel, 1 vCPU, reboot (through the ACPI reset register);</li>
 *   <li>cloud kernel, 2 vCPUs found through the MADT (the cloud kernel has no MP-table parser),
 *       poweroff through the ACPI sleep control register, with {@code --cpu-template minimal}:
 *       the CPU flags the guest sees are compared with the first boot's (the host template);</li>
 *   <li>generic kernel with {@code --acpi off}, 2 vCPUs found through the MP table, reboot
 *       through the i8042 (no ACPI, so no power-off either: Linux would halt).</li>
 *   <li>the generic kernel's uncompressed vmlinux through the PVH entry (hvm_start_info with the
 *       command line, memory map, initrd module and RSDP address), with ACPI this time: 2 vCPUs
 *       from the MADT, poweroff. So both kernels reach 2 CPUs, power off and reboot.</li>
 * </ul>
 * The serial logs stay under tests/target/full-boot (the scratch share) to read after a failure.
 */
@NeedsHardwareKvm
class FullBootIT {
    private static final Pattern EXIT = Pattern.compile("RISTRETTO-EXIT-([a-z-]+)=(\\d+) WALL-MS=(\\d+)");

    private static GuestImages.Kernel kernel;
    private static GuestImages.Kernel generic;
    private static ExecResult run;
    private static Path scratch;

    @BeforeAll
    static void bootOnce() throws Exception {
        HostTools.assumeInstalled(HostTools.L1_TOOLS);
        Path initramfs;
        try {
            kernel = GuestImages.cloudKernel();
            generic = GuestImages.genericKernel();
            initramfs = GuestImages.guestInitramfs();
        } catch (DebianArchiveUnreachableException e) {
            assumeTrue(false, e.getMessage());
            return;
        }
        scratch = Repository.targetDir("full-boot");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // boot NAME KERNEL ACTION EXTRA-OPTIONS...: the real CLI main in its own JVM, serial to a
        // file on the scratch share, then a line with its exit status and wall time. It waits for
        // Ristretto to end; a boot still running after 100 s (they take 25-45 s) gets SIGQUIT (the JVM's thread
        // dump, to the job's output: where each vCPU thread is), then SIGTERM, then SIGKILL if the
        // stop itself hangs, so it fails its own assertions instead of the whole class.
        // (ProbeGuestsIT covers the signals.)
        String boot = String.join("\n",
                "name=$1 kernel=$2 action=$3; shift 3",
                "log=\"$SCRATCH/$name.serial.log\"; err=\"$SCRATCH/$name.stderr.log\"; t0=$(date +%s%N)",
                // QEMU 7.2's TCG, under which L1 runs, now and then corrupts a process's state around
                // KVM_RUN (docs/known-issues.md): the JVM aborts (134), the guest triple-faults, or the
                // guest stalls (a boot still running after 100 s). Such a boot is run again, at most
                // four times (measured: one 2-vCPU boot in three ends so; bench/nested-stress.sh), and
                // every retry is reported; any other failure, and a fifth crash, stands.
                "for attempt in 1 2 3 4 5; do",
                "  rm -f \"$log\"",
                "  \"$JAVA\" --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -cp \"$CP\" dev.ristretto.cli.Main run"
                        + " --kernel \"$kernel\" --initrd \"$INITRD\" --memory 512M"
                        + " --append \"console=ttyS0 ristretto.action=$action\" --serial \"file:$log\" \"$@\" 2>\"$err\" &",
                "  pid=$!",
                "  for i in $(seq 1 100); do",
                "    kill -0 $pid 2>/dev/null || break",
                "    sleep 1",
                "  done",
                "  hung=0; if kill -0 $pid 2>/dev/null; then hung=1; kill -QUIT $pid; sleep 3; kill -TERM $pid;"
                        + " for i in $(seq 1 15); do kill -0 $pid 2>/dev/null || break; sleep 1; done;"
                        + " kill -KILL $pid 2>/dev/null; fi",
                "  [ $hung = 0 ] || cp \"$log\" \"$SCRATCH/$name.attempt$attempt.serial.log\" 2>/dev/null",
                "  wait $pid; status=$?",
                "  cat \"$err\"",
                "  if [ $status = 134 ] || [ $hung = 1 ] || grep -q KVM_EXIT_SHUTDOWN \"$err\"; then",
                "    echo \"NESTED-CRASH-RETRY $name attempt=$attempt status=$status hung=$hung\"; continue",
                "  fi",
                "  break",
                "done",
                "t1=$(date +%s%N)",
                "echo \"RISTRETTO-EXIT-$name=$status WALL-MS=$(( (t1 - t0) / 1000000 ))\"");
        String script = String.join("\n",
                "boot() {", boot, "}",
                "boot one-cpu \"$CLOUD\" reboot --cpus 1",
                "boot two-cpus \"$CLOUD\" poweroff --cpus 2 --cpu-template minimal",
                // Without ACPI, Linux takes the PIT/IOAPIC timer path: with the PIT routed where the MP
                // table says (IOAPIC pin 2) its LAPIC timer passes verification and reboot completes.
                "boot mptable \"$GENERIC\" reboot --cpus 2 --acpi off",
                "boot pvh \"$GENERIC_ELF\" poweroff --cpus 2");
        run = HardwareKvmHost.exec(List.of("env", "JAVA=" + java, "CP=" + System.getProperty("java.class.path"),
                        "CLOUD=" + kernel.vmlinuz(), "GENERIC=" + generic.vmlinuz(), "GENERIC_ELF=" + generic.vmlinux(), "INITRD=" + initramfs,
                        "SCRATCH=" + scratch,
                        "bash", "-c", script, "full-boot"),
                Duration.ofMinutes(30), scratch);
        System.out.printf("FullBootIT: %s%n", run.summary());
        assumeFalse(run.outcome() == ExecResult.Outcome.NO_KERNEL, run.diagnostics().strip());
        for (String line : run.outputLines()) {
            if (line.startsWith("RISTRETTO-EXIT-") || line.startsWith("NESTED-CRASH-RETRY")) {
                System.out.println("FullBootIT: " + line);
            }
        }
    }

    private static Matcher exitOf(String name) {
        return run.outputLines().stream().map(EXIT::matcher).filter(m -> m.find() && m.group(1).equals(name))
                .findFirst().orElseThrow(() -> new AssertionError("no exit line for boot " + name + ": " + run.summary()));
    }

    private static String serial(String name) throws Exception {
        Path log = scratch.resolve(name + ".serial.log");
        return Files.exists(log) ? Files.readString(log) : "";
    }

    @Test
    void theHarnessRanTheCommand() {
        assertEquals(ExecResult.Outcome.EXITED, run.outcome(), run.summary());
    }

    /** The serial log of boot {@code name}, after checking its init came up with {@code cpus} CPUs. */
    private static String guestUp(String name, GuestImages.Kernel k, int cpus) throws Exception {
        String log = serial(name);
        assertTrue(log.contains("RISTRETTO-GUEST-UP kernel=" + k.version() + " cpus=" + cpus),
                "no marker with kernel " + k.version() + " and " + cpus + " CPUs in " + scratch.resolve(name + ".serial.log"));
        return log;
    }

    /** Boot {@code name}'s kernel printed {@code last} ("reboot: Restarting system", "reboot: Power down") and Ristretto exited 0. */
    private static void endedWith(String name, String log, String last) {
        assertTrue(log.contains(last), "no '" + last + "' in " + scratch.resolve(name + ".serial.log"));
        assertEquals("0", exitOf(name).group(2), run.summary());
    }

    @Test
    void guestReachesUserspaceAndItsRebootEndsRistrettoWithZero() throws Exception {
        endedWith("one-cpu", guestUp("one-cpu", kernel, 1), "reboot: Restarting system");
    }

    @Test
    void twoVcpusFromTheMadtAndPowerOffThroughAcpi() throws Exception {
        String log = guestUp("two-cpus", kernel, 2);
        assertTrue(log.contains("ACPI: FACP") && log.contains("RSTRTO"), "our FADT is not listed: see " + scratch);
        endedWith("two-cpus", log, "reboot: Power down");
    }

    @Test
    void genericKernelFindsTwoCpusInTheMpTableWithAcpiOffAndReboots() throws Exception {
        String log = guestUp("mptable", generic, 2);
        assertTrue(log.contains("Intel MultiProcessor Specification"), "MP table not found: see " + scratch);
        // Linux programs IOAPIC pin 2 for the PIT, as our MP table says. When the PIT's GSI 0 went
        // to pin 0 instead, no tick came, and the reboot below never came either. (Whether the LAPIC
        // timer then passes Linux's verification against those ticks depends on TCG's timing in L1:
        // under load it sometimes does not, and Linux carries on with the PIT, so that is not asserted.)
        assertTrue(log.contains("..TIMER: vector=0x30 apic1=0 pin1=2"), "timer not on IOAPIC pin 2: see " + scratch);
        endedWith("mptable", log, "reboot: Restarting system");
    }

    @Test
    void genericVmlinuxBootsThroughPvhFindsAcpiAndPowersOff() throws Exception {
        String log = guestUp("pvh", generic, 2);
        // hvm_start_info.rsdp_paddr points at it (ProbeGuestsIT checks the field itself); Linux
        // would also find it by scanning the BIOS area, so this line proves the tables, not the field.
        assertTrue(log.lines().anyMatch(l -> l.contains("ACPI: RSDP") && l.contains("RSTRTO")),
                "the PVH kernel did not find our RSDP: see " + scratch);
        endedWith("pvh", log, "reboot: Power down");
    }

    /** The guest init's {@code RISTRETTO-GUEST-CPU flags=...} line: the flags Linux derived from CPUID. */
    private static Set<String> cpuFlags(String name) throws Exception {
        return serial(name).lines().filter(l -> l.startsWith("RISTRETTO-GUEST-CPU flags="))
                .map(l -> Set.of(l.substring("RISTRETTO-GUEST-CPU flags=".length()).strip().split(",")))
                .findFirst().orElseThrow(() -> new AssertionError("no RISTRETTO-GUEST-CPU line: see "
                        + scratch.resolve(name + ".serial.log")));
    }

    /**
     * --cpu-template minimal, observed from inside the guest (on PVM hosts CPUID ignores the table,
     * so only here): Linux's flags under the minimal template lack every feature the template
     * hides, keep the baseline it keeps, and add nothing the host template's boot did not have.
     */
    @Test
    void minimalCpuTemplateHidesFeaturesTheHostTemplateShows() throws Exception {
        Set<String> host = cpuFlags("one-cpu");
        Set<String> minimal = cpuFlags("two-cpus");
        // /proc/cpuinfo names (arch/x86/include/asm/cpufeatures.h) of features CpuTemplate.MINIMAL hides.
        // npt, vmcb_clean, vgif: SVM features from leaf 0x8000000A, which the template zeroes.
        List<String> hidden = List.of("avx", "avx2", "avx512f", "fma", "f16c", "bmi1", "bmi2", "adx", "aes",
                "pclmulqdq", "sha_ni", "rdrand", "rdseed", "movbe", "xsave", "xsaveopt", "xsavec", "xsaves", "hle",
                "rtm", "pku", "ospke", "vmx", "svm", "npt", "vmcb_clean", "vgif", "sse4a", "xop", "fma4", "tbm", "abm",
                "3dnow", "3dnowext", "mmxext");
        List<String> shownByHost = hidden.stream().filter(host::contains).toList();
        assertFalse(shownByHost.isEmpty(), "the host template's guest has none of " + hidden
                + ", so the template cannot be observed: " + host);
        assertEquals(List.of(), hidden.stream().filter(minimal::contains).toList(), "minimal template leaks: " + minimal);
        for (String kept : List.of("sse4_2", "ssse3", "popcnt", "cx16", "hypervisor")) {
            assertEquals(host.contains(kept), minimal.contains(kept), "baseline flag " + kept + ": host " + host
                    + ", minimal " + minimal);
        }
        Set<String> added = new TreeSet<>(minimal);
        added.removeAll(host);
        added.remove("ht"); // CPUID.1:EDX.HTT says "more than one logical CPU": that boot has 2 vCPUs, the host one 1
        assertEquals(Set.of(), added, "the minimal template added flags");
        System.out.println("FullBootIT: minimal template hides " + shownByHost + " that the host template shows");
    }
}
