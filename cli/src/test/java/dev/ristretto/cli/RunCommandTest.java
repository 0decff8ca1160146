package dev.ristretto.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.machine.MachineConfig;
import dev.ristretto.machine.MachineExit;
import dev.ristretto.machine.OnReboot;
import dev.ristretto.machine.SerialConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class RunCommandTest {
    @TempDir
    Path dir;
    Path kernel;
    MachineConfig launched;
    final StringWriter out = new StringWriter();
    final StringWriter err = new StringWriter();

    @BeforeEach
    void kernelFile() throws IOException {
        kernel = Files.writeString(dir.resolve("bzImage"), "not really a kernel; the launcher is fake");
    }

    /** Runs the command line with a launcher that records the configuration instead of booting. */
    private int run(MachineExit result, String... args) {
        CommandLine cl = new CommandLine(new RistrettoCommand(), new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> cls) throws Exception {
                if (cls == RunCommand.class) {
                    return cls.cast(new RunCommand(c -> {
                        launched = c;
                        return result;
                    }));
                }
                return CommandLine.defaultFactory().create(cls);
            }
        });
        return Main.configure(cl, new PrintWriter(out, true), new PrintWriter(err, true)).execute(args);
    }

    private int run(String... args) {
        return run(new MachineExit(MachineExit.Reason.POWER_OFF, 0, "the guest powered off (acpi)", ""), args);
    }

    @Test
    void optionsBecomeTheConfiguration() throws IOException {
        assertEquals(0, run("run", "--kernel", kernel.toString(), "--append", "console=ttyS0 quiet", "--memory", "1G",
                "--cpus", "2", "--serial", "none", "--on-reboot", "restart", "--acpi", "off", "--dump-acpi", "tables",
                "--disk", kernel + ",serial=D1", "--disk", Files.writeString(dir.resolve("b.img"), "b") + ",ro", "--net", "user", "--console", "virtio",
                "--rng", "off", "--cpu-template", "minimal", "--boot-protocol", "linux"));
        assertEquals(kernel.toAbsolutePath(), launched.kernel());
        assertNull(launched.initrd());
        assertEquals("console=ttyS0 quiet", launched.append());
        assertEquals(1L << 30, launched.memory().bytes());
        assertEquals(2, launched.cpus());
        assertEquals(SerialConfig.NONE, launched.serial());
        assertEquals(OnReboot.RESTART, launched.onReboot());
        assertEquals(Boolean.FALSE, launched.acpi());
        assertEquals(Path.of("tables").toAbsolutePath(), launched.dumpAcpi());
        assertEquals(2, launched.disks().size());
        assertEquals("D1", launched.disks().get(0).serial());
        assertTrue(launched.disks().get(1).readOnly());
        assertTrue(launched.nets().get(0).user());
        assertEquals("virtio", launched.console());
        assertEquals(Boolean.FALSE, launched.rng());
        assertEquals("minimal", launched.cpuTemplate());
        assertEquals("linux", launched.bootProtocol());
        assertEquals("", err.toString());
    }

    @Test
    void defaultsFillWhatIsNotGiven() {
        assertEquals(0, run("run", "--kernel", kernel.toString()));
        assertEquals(MachineConfig.DEFAULT_MEMORY, launched.memory());
        assertEquals(1, launched.cpus());
        assertEquals("console=ttyS0", launched.append());
        assertEquals(SerialConfig.STDIO, launched.serial());
    }

    @Test
    void configFileIsOverriddenByOptions() throws IOException {
        Path cfg = Files.writeString(dir.resolve("vm.json"),
                "{\"kernel\": \"bzImage\", \"memory\": \"2G\", \"cpus\": 4, \"append\": \"from-file\"}");
        assertEquals(0, run("run", "--config", cfg.toString(), "--cpus", "2"));
        assertEquals(kernel, launched.kernel());
        assertEquals(2L << 30, launched.memory().bytes());
        assertEquals(2, launched.cpus());
        assertEquals("from-file", launched.append());
    }

    @Test
    void printConfigShowsTheEffectiveConfigurationAndBootsNothing() throws IOException {
        assertEquals(0, run("run", "--kernel", kernel.toString(), "--memory", "768M", "--print-config"));
        assertNull(launched);
        String json = out.toString();
        assertTrue(json.contains("\"memory\" : \"768M\""), json);
        assertTrue(json.contains("\"serial\" : \"stdio\""), json);
        // What --print-config prints is itself a valid config file.
        Path cfg = Files.writeString(dir.resolve("printed.json"), json);
        out.getBuffer().setLength(0);
        assertEquals(0, run("run", "--config", cfg.toString()));
        assertEquals(768L << 20, launched.memory().bytes());
    }

    @Test
    void usageErrorsExitTwoWithOneLineAndNoStackTrace() {
        assertUsage("Unknown options: '--kernal'", "run", "--kernal", kernel.toString());
        assertUsage("'lots' is not a size", "run", "--kernel", kernel.toString(), "--memory", "lots");
        assertUsage("not a serial destination", "run", "--kernel", kernel.toString(), "--serial", "tcp:1");
        assertUsage("'maybe' is not on or off", "run", "--kernel", kernel.toString(), "--acpi", "maybe");
        assertUsage("is not a network", "run", "--kernel", kernel.toString(), "--net", "bridge=br0");
        assertUsage("disk " + dir.resolve("none.img") + " does not exist", "run", "--kernel", kernel.toString(),
                "--disk", dir.resolve("none.img").toString());
        assertUsage("does not exist", "run", "--kernel", dir.resolve("nope").toString());
        assertUsage("memory 16M is too small", "run", "--kernel", kernel.toString(), "--memory", "16M");
        assertUsage("cpus 0 is out of range", "run", "--kernel", kernel.toString(), "--cpus", "0");
        assertUsage("no kernel given", "run");
        assertUsage("config " + dir.resolve("x.json") + " does not exist", "run", "--config", dir.resolve("x.json").toString());
        assertUsage("a command is required");
        assertNull(launched);
    }

    private void assertUsage(String expected, String... args) {
        err.getBuffer().setLength(0);
        assertEquals(Main.EXIT_USAGE, run(args), err.toString());
        String e = err.toString();
        assertTrue(e.contains(expected), e);
        assertTrue(e.startsWith("ristretto: "), e);
        assertFalse(e.contains("\tat "), "no stack trace for a user mistake: " + e);
    }

    @Test
    void aGuestCrashExitsOneWithItsDiagnostic() {
        int code = run(new MachineExit(MachineExit.Reason.VCPU_FAILURE, 1, "vCPU 0: emulation failure",
                "RIP=0000000001000200\ncode: 0f 01"), "run", "--kernel", kernel.toString());
        assertEquals(Main.EXIT_RUNTIME, code);
        assertTrue(err.toString().contains("ristretto: vCPU 0: emulation failure\nRIP=0000000001000200"), err.toString());
    }

    @Test
    void helpAndVersionWork() {
        assertEquals(0, run("run", "--help"));
        assertTrue(out.toString().contains("--kernel=FILE"), out.toString());
        assertTrue(out.toString().contains("Ctrl-A x"), out.toString());
        out.getBuffer().setLength(0);
        assertEquals(0, run("--version"));
        assertTrue(out.toString().startsWith("ristretto 0."), out.toString());
    }
}
