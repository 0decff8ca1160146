package dev.ristretto.machine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MachineConfigTest {
    @TempDir
    Path dir;

    private MachineConfig full() {
        return new MachineConfig(Path.of("/k/bzImage"), Path.of("/k/initrd.img"), "console=ttyS0 quiet",
                MemorySize.parse("1536M"), 4, SerialConfig.file(Path.of("/tmp/serial.log")), OnReboot.RESTART, false,
                Path.of("/tmp/acpi"), null, null, null, null, null, null);
    }

    @Test
    void jsonRoundTripKeepsEveryOption() {
        MachineConfig c = full();
        String json = ConfigFiles.toJson(c);
        assertTrue(json.contains("\"memory\" : \"1536M\""), json);
        assertTrue(json.contains("\"kernel\" : \"/k/bzImage\""), json);
        assertTrue(json.contains("\"serial\" : \"file:/tmp/serial.log\""), json);
        assertTrue(json.contains("\"onReboot\" : \"restart\""), json);
        assertTrue(json.contains("\"acpi\" : false"), json);
        assertTrue(json.contains("\"dumpAcpi\" : \"/tmp/acpi\""), json);
        assertEquals(c, ConfigFiles.fromJson(json, "test"));
    }

    @Test
    void leftOutFieldsAreNotWrittenAndDefaultsFillThem() {
        MachineConfig c = ConfigFiles.fromJson("{\"kernel\": \"/k\"}", "test");
        assertEquals("{\n  \"kernel\" : \"/k\"\n}", ConfigFiles.toJson(c));
        MachineConfig d = c.withDefaults();
        assertEquals(MachineConfig.DEFAULT_MEMORY, d.memory());
        assertEquals(1, d.cpus());
        assertEquals(SerialConfig.STDIO, d.serial());
        assertEquals(OnReboot.EXIT, d.onReboot());
        assertEquals(Boolean.TRUE, d.acpi());
        assertEquals("console=ttyS0", d.append());
    }

    @Test
    void commandLineOverridesFileField_byField() {
        MachineConfig file = full();
        MachineConfig cli = new MachineConfig(null, null, "root=/dev/vda", null, 2, null, null, null, null, null, null, null, null, null, null);
        MachineConfig merged = file.overriddenBy(cli);
        assertEquals("root=/dev/vda", merged.append());
        assertEquals(2, merged.cpus());
        assertEquals(file.memory(), merged.memory());
        assertEquals(file.kernel(), merged.kernel());
    }

    @Test
    void relativePathsInAConfigFileAreRelativeToTheFile() throws IOException {
        Path cfg = dir.resolve("vm.json");
        Files.writeString(cfg, "{\"kernel\": \"bzImage\", \"initrd\": \"../i.img\", \"serial\": \"file:log.txt\"}");
        MachineConfig c = ConfigFiles.read(cfg);
        assertEquals(dir.resolve("bzImage"), c.kernel());
        assertEquals(dir.getParent().resolve("i.img"), c.initrd());
        assertEquals(dir.resolve("log.txt"), c.serial().path());
    }

    @Test
    void malformedConfigsGetOneSentenceNamingTheProblem() {
        assertMessage("{\"kernel\": \"/k\", \"memroy\": \"1G\"}", "unknown option \"memroy\" at line 1");
        assertMessage("{\"kernel\": \"/k\", \"memory\": \"lots\"}", "bad value in \"memory\"");
        assertMessage("{\"kernel\": \"/k\", \"memory\": \"lots\"}", "'lots' is not a size");
        assertMessage("{\"kernel\": \"/k\",", "not valid JSON at line 1");
        assertMessage("{\"cpus\": \"two\"}", "bad value in \"cpus\"");
        assertMessage("{\"serial\": \"tcp:1234\"}", "not a serial destination");
        assertMessage("{\"onReboot\": \"explode\"}", "not a reboot action");
        assertMessage("", "empty");
    }

    private static void assertMessage(String json, String expected) {
        SetupException e = assertThrows(SetupException.class, () -> ConfigFiles.fromJson(json, "vm.json"));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertTrue(e.getMessage().startsWith("config vm.json"), e.getMessage());
        assertEquals(SetupException.Kind.USAGE, e.kind());
    }

    @Test
    void missingConfigFileIsAUsageError() {
        SetupException e = assertThrows(SetupException.class, () -> ConfigFiles.read(dir.resolve("nope.json")));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void validationNamesTheValueAndTheFix() throws IOException {
        Path kernel = Files.writeString(dir.resolve("bzImage"), "x");
        MachineConfig ok = new MachineConfig(kernel, null, null, null, null, null, null, null, null, null, null, null, null, null, null).withDefaults();
        ok.validate();
        assertValidation(new MachineConfig(null, null, null, null, null, null, null, null, null, null, null, null, null, null, null), "no kernel given");
        assertValidation(new MachineConfig(dir.resolve("missing"), null, null, null, null, null, null, null, null, null, null, null, null, null, null),
                "kernel " + dir.resolve("missing") + " does not exist");
        assertValidation(new MachineConfig(kernel, dir, null, null, null, null, null, null, null, null, null, null, null, null, null), "is a directory");
        assertValidation(new MachineConfig(kernel, null, null, MemorySize.parse("16M"), null, null, null, null, null, null, null, null, null, null, null),
                "memory 16M is too small");
        assertValidation(new MachineConfig(kernel, null, null, new MemorySize((64 << 20) + 1), null, null, null, null, null, null, null, null, null, null, null),
                "not a whole number of 4 KiB pages");
        assertValidation(new MachineConfig(kernel, null, null, null, 0, null, null, null, null, null, null, null, null, null, null), "cpus 0 is out of range");
        assertValidation(new MachineConfig(kernel, null, null, null, 255, null, null, null, null, null, null, null, null, null, null), "cpus 255 is out of range");
        assertValidation(new MachineConfig(kernel, null, null, null, null, null, null, null, null, "multiboot", null, null, null, null, null),
                "boot protocol 'multiboot' is unknown");
        assertValidation(new MachineConfig(kernel, null, null, null, null, null, null, null, null, null, null, null, null,
                null, "t2"), "unknown CPU template 't2'");
        assertValidation(new MachineConfig(kernel, null, null, null, null, null, null, null, null, null,
                List.of(DiskConfig.parse(kernel + ",serial=A"), DiskConfig.parse(Files.writeString(dir.resolve("b.img"), "b") + ",ro,serial=A")), null, null,
                null, null), "two disks have the serial 'A'");
        assertValidation(new MachineConfig(kernel, null, null, null, null, null, null, null, null, null,
                List.of(DiskConfig.parse(kernel.toString()), DiskConfig.parse(dir.resolve(".").resolve("bzImage") + ",ro")),
                null, null, null, null), "is given twice");
        assertValidation(new MachineConfig(kernel, null, null, null, null, null, null, null, null, null, null,
                List.of(NetConfig.parse("user,mac=52:54:00:00:00:01"), NetConfig.parse("tap=t0,mac=52:54:00:00:00:01")),
                null, null, null), "two networks have the MAC 52:54:00:00:00:01");
        assertValidation(new MachineConfig(kernel, null, null, null, null, null, null, null, null, null, null, null,
                "vga", null, null), "console 'vga' is unknown");
    }

    private static void assertValidation(MachineConfig c, String expected) {
        SetupException e = assertThrows(SetupException.class, () -> c.withDefaults().validate());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void diskAndNetSpecsParseAndPrintBack() {
        DiskConfig d = DiskConfig.parse("/img/a.raw,ro,serial=DISK-1,cache=none");
        assertEquals(Path.of("/img/a.raw"), d.path());
        assertTrue(d.readOnly() && d.cacheNone());
        assertEquals("DISK-1", d.serial());
        assertEquals(d, DiskConfig.parse(d.toString()));
        NetConfig n = NetConfig.parse("tap=rtap0,mac=52:54:00:AB:cd:01");
        assertEquals("rtap0", n.tap());
        assertEquals("tap=rtap0,mac=52:54:00:ab:cd:01", n.toString());
        assertEquals(n, NetConfig.parse(n.toString()));
        assertTrue(NetConfig.parse("user").user());
        for (String bad : new String[] {"", ",ro", "a.img,rw", "a.img,cache=sometimes", "a.img,serial=",
            "a.img,serial=012345678901234567890"}) {
            assertThrows(IllegalArgumentException.class, () -> DiskConfig.parse(bad), bad);
        }
        for (String bad : new String[] {"", "tap", "tap=", "bridge=br0", "user,mac=01:00:00:00:00:01",
            "user,mac=52:54:00", "user,mac=zz:54:00:00:00:01", "user,speed=1G", "tap=a/b"}) {
            assertThrows(IllegalArgumentException.class, () -> NetConfig.parse(bad), bad);
        }
    }

    @Test
    void memorySizesParseAndPrintExactly() {
        assertEquals(512L << 20, MemorySize.parse("512M").bytes());
        assertEquals(512L << 20, MemorySize.parse("512MiB").bytes());
        assertEquals(2L << 30, MemorySize.parse("2g").bytes());
        assertEquals(12345, MemorySize.parse("12345").bytes());
        assertEquals("1536M", MemorySize.parse("1536M").toString());
        assertEquals("6G", MemorySize.parse("6144M").toString());
        assertEquals("4097K", MemorySize.parse("4097K").toString());
        for (String bad : new String[] {"", "M", "-1G", "1.5G", "12Q", "99999999999999999999", "9999999999999T"}) {
            assertThrows(IllegalArgumentException.class, () -> MemorySize.parse(bad), bad);
        }
        Random rnd = new Random(7);
        for (int i = 0; i < 10_000; i++) {
            MemorySize m = new MemorySize((rnd.nextLong() >>> 1) >>> rnd.nextInt(63));
            assertEquals(m, MemorySize.parse(m.toString()));
        }
    }
}
