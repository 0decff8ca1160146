package dev.ristretto.tests.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ristretto.tests.nested.HostFacts;
import dev.ristretto.tests.nested.Repository;
import dev.ristretto.tests.support.RistrettoProcess;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Boots the freestanding probe guests (guest-images/test-guests, built from source) through
 * {@code ristretto run} on this host's /dev/kvm and compares what each guest says it received —
 * command line, memory map, initrd, RSDP — with what the test gave Ristretto. They run here even on
 * an emulation-only KVM: the probes poll and use only plain integer instructions. Each probe ends
 * with an i8042 reset, which must end Ristretto with exit code 0.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProbeGuestsIT {
    private static final Duration LIMIT = Duration.ofMinutes(3);
    private static final String CMDLINE = "probe a=\"b\" ristretto";
    /** e820 of a 128 MiB guest (firmware Layout: base memory, EBDA/BIOS reserved, RAM from 1 MiB). */
    private static final List<String> MAP_128M = List.of(
            "addr=0x0000000000000000 size=0x000000000009fc00 type=1",
            "addr=0x000000000009fc00 size=0x0000000000060400 type=2",
            "addr=0x0000000000100000 size=0x0000000007f00000 type=1");

    private Path pvhProbe;
    private Path elfProbe;
    private Path initrd;
    private int initrdSum;
    private Path logs;

    @BeforeAll
    void buildGuests() throws Exception {
        assumeTrue(HostFacts.probe().devKvmUsable(), "/dev/kvm is missing or not accessible to this user");
        logs = Repository.targetDir("probe-guests");
        Process build = new ProcessBuilder(Repository.script("guest-images/test-guests/build.sh").toString(),
                logs.resolve("guests").toString()).redirectError(logs.resolve("build.err").toFile()).start();
        List<String> paths = new String(build.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        assertTrue(build.waitFor(120, TimeUnit.SECONDS), "build.sh did not finish");
        assumeTrue(build.exitValue() != 3, "no compiler for the test guests: " + Files.readString(logs.resolve("build.err")));
        assertEquals(0, build.exitValue(), Files.readString(logs.resolve("build.err")));
        pvhProbe = Path.of(paths.get(0));
        elfProbe = Path.of(paths.get(1));
        // An initrd of 100 001 bytes (not a multiple of 4: exercises the probe's padding rule).
        byte[] data = new byte[100_001];
        new Random(2).nextBytes(data);
        initrd = Files.write(logs.resolve("initrd.bin"), data);
        initrdSum = sum32(data);
    }

    /** The probes' checksum: little-endian 32-bit words, the last one zero-padded, summed mod 2^32. */
    static int sum32(byte[] data) {
        ByteBuffer b = ByteBuffer.wrap(java.util.Arrays.copyOf(data, (data.length + 3) & ~3)).order(ByteOrder.LITTLE_ENDIAN);
        int sum = 0;
        while (b.hasRemaining()) {
            sum += b.getInt();
        }
        return sum;
    }

    private record Boot(RistrettoProcess.Outcome outcome, String serial) {
    }

    private Boot boot(String name, Path kernel, String... extra) throws Exception {
        Path dir = Files.createDirectories(logs.resolve(name));
        Path serial = dir.resolve("serial.log");
        List<String> args = new java.util.ArrayList<>(List.of("run", "--kernel", kernel.toString(), "--initrd",
                initrd.toString(), "--memory", "128M", "--append", CMDLINE, "--serial", "file:" + serial));
        args.addAll(List.of(extra));
        RistrettoProcess.Outcome o = RistrettoProcess.run(dir, LIMIT, args.toArray(String[]::new));
        return new Boot(o, Files.exists(serial) ? Files.readString(serial, StandardCharsets.ISO_8859_1) : "");
    }

    private static String field(String serial, String regex) {
        Matcher m = Pattern.compile(regex).matcher(serial);
        assertTrue(m.find(), "no match for " + regex + " in:\n" + serial);
        return m.group(1);
    }

    private void assertEndedByReset(Boot b) {
        assertEquals(0, b.outcome().exitCode(), "stderr: " + b.outcome().stderr() + "\nserial:\n" + b.serial());
    }

    @Test
    void pvhProbeReceivesStartInfoAsConfigured() throws Exception {
        Boot b = boot("pvh", pvhProbe);
        String s = b.serial();
        assertTrue(s.contains("PVH-PROBE-DONE"), s);
        assertEquals("0x336ec578", field(s, "magic=(0x[0-9a-f]{8})"));
        assertEquals("1", field(s, "version=(\\d+)"));
        assertEquals("probe a=\\x22b\\x22 ristretto", field(s, "cmdline=\"([^\"]*)\""));
        assertEquals(MAP_128M, s.lines().filter(l -> l.startsWith("memmap[")).map(l -> l.substring(l.indexOf("addr="))).toList());
        assertEquals("1", field(s, "modules=(\\d+)"));
        assertEquals(String.format(Locale.ROOT, "0x%016x", 100_001), field(s, "module\\[0\\] paddr=0x[0-9a-f]{16} size=(0x[0-9a-f]{16})"));
        assertEquals(String.format(Locale.ROOT, "0x%08x", initrdSum), field(s, "module\\[0\\].* sum32=(0x[0-9a-f]{8})"));
        long rsdp = Long.decode(field(s, "rsdp_paddr=(0x[0-9a-f]{16})"));
        assertTrue(rsdp >= 0xe0000 && rsdp < 0x100000, "RSDP outside the BIOS area: " + Long.toHexString(rsdp));
        assertEquals("52 53 44 20 50 54 52 20", field(s, "rsdp_paddr=0x[0-9a-f]{16} head=([0-9a-f ]+)"));
        assertEndedByReset(b);
    }

    @Test
    void elf64ProbeReceivesBootParamsAsConfigured() throws Exception {
        Boot b = boot("elf64", elfProbe);
        String s = b.serial();
        assertTrue(s.contains("ELF64-PROBE-DONE"), s);
        assertEquals("0x0000aa55", field(s, "boot_flag=(0x[0-9a-f]{8})"));
        assertEquals("0x53726448", field(s, "header=(0x[0-9a-f]{8})"), "HdrS");
        assertEquals("0x000000ff", field(s, "type_of_loader=(0x[0-9a-f]{8})"));
        assertEquals("probe a=\\x22b\\x22 ristretto", field(s, "cmdline=\"([^\"]*)\""));
        assertEquals(MAP_128M, s.lines().filter(l -> l.startsWith("e820[")).map(l -> l.substring(l.indexOf("addr="))).toList());
        assertEquals(String.format(Locale.ROOT, "0x%016x", 100_001), field(s, "initrd addr=0x[0-9a-f]{16} size=(0x[0-9a-f]{16})"));
        assertEquals(String.format(Locale.ROOT, "0x%08x", initrdSum), field(s, "initrd .* sum32=(0x[0-9a-f]{8})"));
        assertEquals("52 53 44 20 50 54 52 20", field(s, "rsdp_paddr=0x[0-9a-f]{16} head=([0-9a-f ]+)"));
        assertEndedByReset(b);
    }

    @Test
    void withAcpiOffThereIsNoRsdp() throws Exception {
        Boot b = boot("pvh-noacpi", pvhProbe, "--acpi", "off");
        assertEquals("0x0000000000000000", field(b.serial(), "rsdp_paddr=(0x[0-9a-f]{16})"));
        assertEndedByReset(b);
    }

    @Test
    void forcingPvhOnAKernelWithoutTheNoteIsAUsageError() throws Exception {
        Boot b = boot("elf64-forced-pvh", elfProbe, "--boot-protocol", "pvh");
        assertEquals(2, b.outcome().exitCode(), b.outcome().stderr());
        assertTrue(b.outcome().stderr().contains("cannot be booted with PVH"), b.outcome().stderr());
    }

    /**
     * SIGTERM and SIGINT stop a running machine in order: the elf64 probe, told to stay, halts
     * after its last line instead of resetting, so only the signal can end Ristretto. The exit
     * status is the shell's 128 + signal number (143, 130), stderr carries no stack trace, and
     * the guest's serial output up to the signal is in the file.
     */
    @ParameterizedTest
    @CsvSource({"TERM, 143", "INT, 130"})
    void aSignalStopsAWaitingGuestWithItsExitStatus(String signal, int status) throws Exception {
        Path dir = Files.createDirectories(logs.resolve("signal-" + signal));
        Path serial = dir.resolve("serial.log");
        Files.deleteIfExists(serial); // a previous run's line must not count
        RistrettoProcess.Running r = RistrettoProcess.start(dir, "run", "--kernel", elfProbe.toString(),
                "--memory", "128M", "--append", "probe.stay", "--serial", "file:" + serial);
        boolean waiting = r.awaitText(serial, "ELF64-PROBE-DONE", LIMIT);
        if (!waiting) {
            RistrettoProcess.Outcome o = r.await(Duration.ofSeconds(1));
            throw new AssertionError("the probe did not reach its last line: exit " + o.exitCode() + ", stderr: "
                    + o.stderr());
        }
        r.signal(signal);
        RistrettoProcess.Outcome o = r.await(Duration.ofSeconds(30));
        assertFalse(o.timedOut(), "SIG" + signal + " did not stop Ristretto within 30 s");
        assertEquals(status, o.exitCode(), "stderr: " + o.stderr());
        assertEquals("ristretto: stopped by SIG" + signal, o.stderr().strip());
        assertFalse(o.stderr().contains("Exception") || o.stderr().contains("\tat "), o.stderr());
        assertTrue(Files.readString(serial, StandardCharsets.ISO_8859_1).contains("cmdline=\"probe.stay\""));
    }
}
