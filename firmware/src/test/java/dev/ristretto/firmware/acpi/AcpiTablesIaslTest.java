package dev.ristretto.firmware.acpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ristretto.vmm.memory.GuestAddress;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Feeds the generated tables to ACPICA's iasl, the reference disassembler: every table must
 * disassemble without errors or warnings, and the disassembled DSDT must compile back.
 * Skipped (with the reason) when iasl is not installed; guest-images/install-deps.sh
 * installs it. Outputs stay under target/acpi-iasl for inspection.
 */
class AcpiTablesIaslTest {

    private static Path iasl;
    private static final Pattern PROBLEM = Pattern.compile(
            "(?i)\\b(error|warning|invalid|unknown|incorrect|exception)\\b");

    @BeforeAll
    static void findIasl() {
        String path = System.getenv().getOrDefault("PATH", "");
        for (String dir : path.split(File.pathSeparator)) {
            Path candidate = Path.of(dir, "iasl");
            if (Files.isExecutable(candidate)) {
                iasl = candidate;
                return;
            }
        }
    }

    private record Run(int exitCode, String output) {
    }

    private static Run run(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(iasl.toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "iasl finished");
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    /** iasl's banner and summary lines mention "Errors"/"Warnings" counts; judge only those. */
    private static void assertClean(Run r, String what) {
        assertEquals(0, r.exitCode(), what + ":\n" + r.output());
        for (String line : r.output().split("\n")) {
            if (line.contains("Compilation successful") || line.contains("Compilation complete")
                    || line.startsWith("ASL Input") || line.startsWith("AML Output")) {
                continue;
            }
            if (line.matches(".*\\b0 Errors, 0 Warnings.*")) {
                continue;
            }
            assertFalse(PROBLEM.matcher(line).find(), what + " reported: " + line + "\n"
                    + r.output());
        }
    }

    @Test
    void iaslDisassemblesEveryTableAndRecompilesTheDsdt() throws Exception {
        assumeTrue(iasl != null, "iasl is not installed (Debian package acpica-tools); run"
                + " guest-images/install-deps.sh to enable this test");
        Path dir = Path.of("target", "acpi-iasl").toAbsolutePath();
        Files.createDirectories(dir);
        byte[] pciHostBridge = Aml.device("PCI0", Aml.hid("PNP0A08"), Aml.uid(0),
                Aml.crs(AmlResource.wordBusNumber(0, 0xff),
                        AmlResource.wordIo(0, 0xcf7),
                        AmlResource.wordIo(0xd00, 0xffff),
                        AmlResource.dwordMemory(AmlResource.Cacheability.NON_CACHEABLE, true,
                                0xc000_0000L, 0xfebf_ffffL),
                        AmlResource.qwordMemory(AmlResource.Cacheability.PREFETCHABLE, true,
                                0x80_0000_0000L, 0xff_ffff_ffffL),
                        AmlResource.extendedInterrupt(true, false, false, true, 16, 17)));
        AcpiTables tables = AcpiTables.build(TestConfigs.pc(4,
                List.of(new AcpiConfig.EcamRegion(0xb000_0000L, 0, 0, 255)),
                List.of(pciHostBridge)), GuestAddress.of(0xe0000));
        for (AcpiTable t : tables.tables()) {
            if (t.signature().equals("RSDP")) {
                continue; // iasl -d takes tables with a standard header; the RSDP has none
            }
            String name = t.signature().toLowerCase() + ".dat";
            Files.write(dir.resolve(name), t.bytes());
            Run r = run(dir, "-d", name);
            assertClean(r, "iasl -d " + name);
            Path dsl = dir.resolve(t.signature().toLowerCase() + ".dsl");
            assertTrue(Files.exists(dsl), name + " produced no .dsl");
            // iasl exits 0 on a bad checksum or an undecodable field and writes its complaint
            // ("Incorrect checksum, should be ..") into the .dsl, so that is read too.
            for (String line : Files.readAllLines(dsl)) {
                assertFalse(PROBLEM.matcher(line).find(), name + ": " + line);
            }
        }
        String dsdt = Files.readString(dir.resolve("dsdt.dsl"));
        assertTrue(dsdt.contains("EisaId (\"PNP0501\")"), dsdt);
        assertTrue(dsdt.contains("EisaId (\"PNP0C0C\")"), dsdt);
        assertTrue(dsdt.contains("_S5"), dsdt);
        assertTrue(dsdt.contains("IRQNoFlags ()"), dsdt);
        assertTrue(dsdt.contains("0x03F8"), dsdt);
        // Round trip: the disassembly compiles back to AML without errors or warnings.
        Files.copy(dir.resolve("dsdt.dsl"), dir.resolve("roundtrip.dsl"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertClean(run(dir, "roundtrip.dsl"), "iasl roundtrip.dsl");
        String fadt = Files.readString(dir.resolve("facp.dsl"));
        // iasl decodes the FADT flags one per line, e.g. "Hardware Reduced (V5) : 1".
        for (String flag : List.of("Hardware Reduced", "Reset Register Supported",
                "Control Method Power Button")) {
            assertTrue(Pattern.compile(Pattern.quote(flag) + " \\(V\\d\\)\\s*:\\s*1")
                    .matcher(fadt).find(), flag + " in\n" + fadt);
        }
    }
}
