package dev.ristretto.vmm.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.check.HostFacts.KvmDeviceState;
import dev.ristretto.vmm.kvm.KvmUnavailableException;
import dev.ristretto.vmm.sys.Errno;
import dev.ristretto.vmm.sys.ErrnoException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HostProbe's parsers on text shaped like the real /proc and /sys files. */
class HostProbeTest {
    @TempDir
    Path dir;

    @Test
    void cpuFlagsComeFromTheFirstFlagsLine() {
        String cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu vme sse2 svm hypervisor\n"
                + "bugs\t\t: sysret_ss_attrs\n\nprocessor\t: 1\nflags\t\t: fpu other\n";
        assertEquals(Set.of("fpu", "vme", "sse2", "svm", "hypervisor"), HostProbe.cpuFlags(cpuinfo));
        assertEquals(Set.of(), HostProbe.cpuFlags(""));
    }

    @Test
    void hugePagesFromMeminfoAndTheBracketedThpMode() {
        String meminfo = "MemTotal:       16384000 kB\nAnonHugePages:   1597440 kB\nHugePages_Total:      64\n"
                + "HugePages_Free:       60\nHugePages_Rsvd:        0\nHugepagesize:       2048 kB\n";
        HostFacts.HugePages h = HostProbe.hugePages(meminfo, "always [madvise] never\n");
        assertEquals(new HostFacts.HugePages(64, 60, 2048, "madvise"), h);
        assertEquals(new HostFacts.HugePages(0, 0, 0, ""), HostProbe.hugePages("", ""));
    }

    @Test
    void capNetAdminIsBit12OfCapEff() {
        assertTrue(HostProbe.capNetAdmin("Name:\tjava\nCapPrm:\t0000000000000000\nCapEff:\t000001fffeffffff\n"));
        assertTrue(HostProbe.capNetAdmin("CapEff:\t0000000000001000\n"));
        assertFalse(HostProbe.capNetAdmin("CapEff:\t0000000000000fff\n"));
        assertFalse(HostProbe.capNetAdmin("CapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\n"));
        assertFalse(HostProbe.capNetAdmin(""));
    }

    @Test
    void passtIsFoundOnlyWhereItIsExecutable() throws IOException {
        Path a = Files.createDirectories(dir.resolve("a"));
        Path b = Files.createDirectories(dir.resolve("b"));
        Files.writeString(a.resolve("passt"), "not executable");
        Path exe = Files.writeString(b.resolve("passt"), "#!/bin/sh\n");
        Files.setPosixFilePermissions(exe, PosixFilePermissions.fromString("rwxr-xr-x"));
        assertEquals(Optional.of(exe), HostProbe.findOnPath("passt", a + "::" + b));
        assertEquals(Optional.empty(), HostProbe.findOnPath("passt", a.toString()));
        assertEquals(Optional.empty(), HostProbe.findOnPath("passt", null));
    }

    @Test
    void kvmOpenFailuresAreClassifiedByErrno() {
        assertEquals(KvmDeviceState.MISSING, HostProbe.kvmFailure("/dev/kvm",
                new KvmUnavailableException("gone", new ErrnoException("open", Errno.ENOENT))).state());
        assertEquals(KvmDeviceState.NO_PERMISSION, HostProbe.kvmFailure("/dev/kvm",
                new KvmUnavailableException("denied", new ErrnoException("open", Errno.EACCES))).state());
        assertEquals(KvmDeviceState.ERROR, HostProbe.kvmFailure("/dev/kvm", new KvmUnavailableException("API 11")).state());
    }

    @Test
    void aMissingDeviceNodeGivesMissingFactsWithoutRunningTheProbe() {
        HostFacts f = HostProbe.gather(dir.resolve("no-kvm-here").toString());
        assertEquals(KvmDeviceState.MISSING, f.kvm().state());
        assertEquals(NativeProbe.Outcome.NOT_RUN, f.probe().outcome());
        assertTrue(f.capabilities().isEmpty());
        assertFalse(HostCheck.evaluate(f).canBootLinux());
    }
}
