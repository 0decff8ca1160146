package dev.ristretto.machine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ristretto.firmware.Layout;
import dev.ristretto.firmware.ResetVector;
import dev.ristretto.firmware.acpi.AcpiTable;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.memory.GuestRegion;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlatformTablesTest {
    @TempDir
    Path dir;

    @Test
    void everyInterruptSwizzleStaysOnThePciPins() {
        for (int slot = 0; slot < 32; slot++) {
            for (int pin = 0; pin < 4; pin++) {
                int gsi = PciPlatform.intxGsi(slot, pin);
                assertTrue(gsi >= 16 && gsi <= 23, slot + "/" + pin + " -> " + gsi);
            }
        }
        assertEquals(17, PciPlatform.intxGsi(1, 0));
        assertEquals(16, PciPlatform.intxGsi(7, 1));
    }

    @Test
    void tablesGoInTheBiosAreaWithTheResetStubAtTheTop() {
        PlatformTables t = PlatformTables.build(4, true);
        GuestMemory mem = GuestMemory.of(List.of(new GuestRegion(GuestAddress.of(0), Arena.ofAuto().allocate(1 << 20))));
        t.writeTo(mem);
        assertArrayEquals("RSD PTR ".getBytes(), mem.read(t.rsdp().orElseThrow(), 8));
        assertArrayEquals("_MP_".getBytes(), mem.read(PlatformTables.MP_TABLE, 4));
        assertArrayEquals(ResetVector.bytes(), mem.read(Layout.RESET_VECTOR, 16));
        assertTrue(t.acpi().orElseThrow().table("MCFG") != null, "MCFG for ECAM");
        PlatformTables noAcpi = PlatformTables.build(4, false);
        assertFalse(noAcpi.rsdp().isPresent());
    }

    @Test
    void dumpWritesOneFilePerTableNamedBySignature() throws IOException {
        PlatformTables t = PlatformTables.build(2, true);
        t.dump(dir);
        for (String name : List.of("DSDT.aml", "APIC.dat", "FACP.dat", "XSDT.dat", "MCFG.dat", "RSDP.dat")) {
            assertTrue(Files.exists(dir.resolve(name)), name);
        }
        AcpiTable dsdt = t.acpi().orElseThrow().table("DSDT");
        assertArrayEquals(dsdt.bytes(), Files.readAllBytes(dir.resolve("DSDT.aml")));
    }

    /** The DSDT with the devices the machine adds must disassemble cleanly in ACPICA's iasl. */
    @Test
    void dsdtWithPciAndLegacyDevicesDisassembles() throws Exception {
        Path iasl = Path.of("/usr/bin/iasl");
        assumeTrue(Files.isExecutable(iasl), "iasl is not installed (guest-images/install-deps.sh installs it)");
        PlatformTables.build(2, true).dump(dir);
        Process p = new ProcessBuilder(iasl.toString(), "-d", "DSDT.aml").directory(dir.toFile())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        String dsl = Files.readString(dir.resolve("DSDT.dsl"));
        for (String id : List.of("PNP0A08", "PNP0A03", "PNP0C02", "PNP0303", "PNP0B00", "PNP0501", "_PRT")) {
            assertTrue(dsl.contains(id), id + " missing in\n" + dsl);
        }
        assertFalse(dsl.contains("Error"), dsl);
    }
}
