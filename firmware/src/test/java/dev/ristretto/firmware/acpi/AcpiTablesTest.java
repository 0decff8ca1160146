package dev.ristretto.firmware.acpi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.memory.GuestAddress;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AcpiTablesTest {

    private static final GuestAddress BASE = GuestAddress.of(0x000e_0000L);

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static String ascii(byte[] b, int from, int len) {
        return new String(b, from, len, StandardCharsets.US_ASCII);
    }

    private static int sum(byte[] b, int from, int to) {
        int s = 0;
        for (int i = from; i < to; i++) {
            s += b[i] & 0xff;
        }
        return s & 0xff;
    }

    @Test
    void everyTableHasAValidHeaderAndSitsWhereItSays() {
        AcpiTables t = AcpiTables.build(TestConfigs.pc(2,
                List.of(new AcpiConfig.EcamRegion(0xb000_0000L, 0, 0, 255)), List.of()), BASE);
        byte[] blob = t.bytes();
        assertEquals(List.of("RSDP", "XSDT", "FACP", "APIC", "DSDT", "MCFG"),
                t.tables().stream().map(AcpiTable::signature).toList());
        for (AcpiTable table : t.tables()) {
            int off = Math.toIntExact(table.address().offsetFrom(BASE));
            assertArrayEquals(table.bytes(), Arrays.copyOfRange(blob, off, off + table.length()),
                    table.signature() + " bytes in the blob");
            assertEquals(0, off % 8, table.signature() + " alignment");
            if (table.signature().equals("RSDP")) {
                continue;
            }
            byte[] b = table.bytes();
            assertEquals(table.signature(), ascii(b, 0, 4));
            assertEquals(b.length, le(b).getInt(4), table.signature() + " length field");
            assertEquals(0, sum(b, 0, b.length), table.signature() + " checksum");
            assertEquals("RSTRTO", ascii(b, 10, 6));
            assertEquals("RSTRTOVM", ascii(b, 16, 8));
            assertEquals(1, le(b).getInt(24));
            assertEquals("RSTR", ascii(b, 28, 4));
        }
        assertEquals(BASE, t.rsdpAddress());
    }

    @Test
    void rsdpPointsAtTheXsdtWithBothChecksums() {
        AcpiTables t = AcpiTables.build(TestConfigs.pc(1), BASE);
        byte[] r = t.table("RSDP").bytes();
        assertEquals(36, r.length);
        assertEquals("RSD PTR ", ascii(r, 0, 8));
        assertEquals(0, sum(r, 0, 20), "ACPI 1.0 checksum over bytes 0-19");
        assertEquals(0, sum(r, 0, 36), "extended checksum over all 36 bytes");
        assertEquals("RSTRTO", ascii(r, Rsdp.OEM_ID_OFFSET, 6));
        assertEquals(2, r[Rsdp.REVISION_OFFSET]);
        assertEquals(0, le(r).getInt(Rsdp.RSDT_ADDRESS_OFFSET));
        assertEquals(36, le(r).getInt(Rsdp.LENGTH_OFFSET));
        assertEquals(t.table("XSDT").address().value(), le(r).getLong(Rsdp.XSDT_ADDRESS_OFFSET));
    }

    @Test
    void xsdtListsFadtMadtAndMcfgOnlyWhenConfigured() {
        AcpiTables without = AcpiTables.build(TestConfigs.pc(1), BASE);
        byte[] x = without.table("XSDT").bytes();
        assertEquals(36 + 16, x.length);
        assertEquals(1, x[8], "XSDT revision");
        assertEquals(without.table("FACP").address().value(), le(x).getLong(36));
        assertEquals(without.table("APIC").address().value(), le(x).getLong(44));
        assertThrows(IllegalArgumentException.class, () -> without.table("MCFG"));

        AcpiTables with = AcpiTables.build(TestConfigs.pc(1,
                List.of(new AcpiConfig.EcamRegion(0xb000_0000L, 0, 0, 255)), List.of()), BASE);
        byte[] x2 = with.table("XSDT").bytes();
        assertEquals(36 + 24, x2.length);
        assertEquals(with.table("MCFG").address().value(), le(x2).getLong(52));
    }

    @Test
    void fadtDescribesAHardwareReducedPlatform() {
        AcpiTables t = AcpiTables.build(TestConfigs.pc(1), BASE);
        byte[] f = t.table("FACP").bytes();
        ByteBuffer b = le(f);
        assertEquals(276, f.length);
        assertEquals(6, f[8], "FADT major revision");
        assertEquals(5, f[Fadt.MINOR_VERSION_OFFSET], "FADT minor revision");
        int flags = b.getInt(Fadt.FLAGS_OFFSET);
        assertEquals(1 << 20, flags & (1 << 20), "HW_REDUCED_ACPI");
        assertEquals(1 << 10, flags & (1 << 10), "RESET_REG_SUP");
        assertEquals(1 << 4, flags & (1 << 4), "PWR_BUTTON: control-method button");
        // No FACS in hardware-reduced mode: both pointers zero.
        assertEquals(0, b.getInt(Fadt.FIRMWARE_CTRL_OFFSET));
        assertEquals(0L, b.getLong(Fadt.X_FIRMWARE_CTRL_OFFSET));
        // Only the 64-bit DSDT pointer is used.
        assertEquals(0, b.getInt(Fadt.DSDT_OFFSET));
        assertEquals(t.table("DSDT").address().value(), b.getLong(Fadt.X_DSDT_OFFSET));
        // No PM1/GPE fixed hardware and no SCI.
        assertEquals(0, b.getShort(Fadt.SCI_INT_OFFSET));
        assertEquals(0, b.getInt(Fadt.SMI_CMD_OFFSET));
        assertEquals(0, b.getInt(Fadt.PM1A_EVT_BLK_OFFSET));
        // i8042 present, VGA absent, CMOS RTC present.
        assertEquals(0x06, b.getShort(Fadt.IAPC_BOOT_ARCH_OFFSET));
        assertGas(f, Fadt.RESET_REG_OFFSET, TestConfigs.POWER_BASE + 2);
        assertEquals(TestConfigs.RESET_VALUE, f[Fadt.RESET_VALUE_OFFSET]);
        assertGas(f, Fadt.SLEEP_CONTROL_REG_OFFSET, TestConfigs.POWER_BASE);
        assertGas(f, Fadt.SLEEP_STATUS_REG_OFFSET, TestConfigs.POWER_BASE + 1);
    }

    /** GAS (§5.2.3.2): System I/O, 8 bits wide, offset 0, byte access, at {@code port}. */
    private static void assertGas(byte[] f, int at, int port) {
        assertEquals(1, f[at], "space id System I/O");
        assertEquals(8, f[at + 1], "bit width");
        assertEquals(0, f[at + 2], "bit offset");
        assertEquals(1, f[at + 3], "byte access");
        assertEquals(port, le(f).getLong(at + 4));
    }

    @Test
    void bootArchFlagsFollowThePlatform() {
        AcpiConfig base = TestConfigs.pc(1);
        AcpiConfig bare = new AcpiConfig(base.oem(), 1, base.localApicAddress(), base.ioApic(),
                base.interruptOverrides(), base.serialPorts(), base.powerRegisters(),
                new AcpiConfig.Platform(false, false, true), List.of(), List.of());
        byte[] f = AcpiTables.build(bare, BASE).table("FACP").bytes();
        // No 8042, VGA present, CMOS RTC not present (bit 5).
        assertEquals(0x20, le(f).getShort(Fadt.IAPC_BOOT_ARCH_OFFSET));
    }

    /** One MADT interrupt controller structure: its type and its bytes. */
    private record Entry(int type, byte[] bytes) {
    }

    private static List<Entry> madtEntries(byte[] m) {
        List<Entry> out = new ArrayList<>();
        int at = Madt.FIRST_ENTRY_OFFSET;
        while (at < m.length) {
            int len = m[at + 1] & 0xff;
            assertTrue(len >= 2, "entry length");
            out.add(new Entry(m[at] & 0xff, Arrays.copyOfRange(m, at, at + len)));
            at += len;
        }
        assertEquals(m.length, at, "entries end exactly at the table end");
        return out;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 64, 255})
    void madtHasOneEnabledLocalApicPerVcpu(int vcpus) {
        AcpiConfig config = TestConfigs.pc(vcpus);
        byte[] m = AcpiTables.build(config, BASE).table("APIC").bytes();
        assertEquals(44 + 8 * vcpus + 12 + 10 * 2 + 6, m.length);
        assertEquals(Madt.size(config), m.length);
        assertEquals(6, m[8], "MADT revision");
        assertEquals(0xfee0_0000, le(m).getInt(Madt.LOCAL_APIC_ADDRESS_OFFSET));
        assertEquals(1, le(m).getInt(Madt.FLAGS_OFFSET), "PCAT_COMPAT");

        List<Entry> entries = madtEntries(m);
        List<Entry> lapics = entries.stream().filter(e -> e.type == 0).toList();
        assertEquals(vcpus, lapics.size());
        for (int i = 0; i < vcpus; i++) {
            byte[] e = lapics.get(i).bytes;
            assertEquals(8, e.length);
            assertEquals(i, e[2] & 0xff, "processor UID");
            assertEquals(i, e[3] & 0xff, "APIC id");
            assertEquals(1, le(e).getInt(4), "enabled");
        }
        List<Entry> ioapics = entries.stream().filter(e -> e.type == 1).toList();
        assertEquals(1, ioapics.size());
        byte[] io = ioapics.get(0).bytes;
        assertEquals(12, io.length);
        assertEquals(0, io[2]);
        assertEquals(0xfec0_0000, le(io).getInt(4));
        assertEquals(0, le(io).getInt(8), "GSI base");

        List<Entry> overrides = entries.stream().filter(e -> e.type == 2).toList();
        assertEquals(2, overrides.size());
        byte[] irq0 = overrides.get(0).bytes;
        assertEquals(10, irq0.length);
        assertEquals(0, irq0[2], "bus ISA");
        assertEquals(0, irq0[3], "source IRQ0");
        assertEquals(2, le(irq0).getInt(4), "to GSI2");
        assertEquals(0, le(irq0).getShort(8), "conforming flags");
        byte[] sci = overrides.get(1).bytes;
        assertEquals(9, sci[3]);
        // Active high (01) in bits 1-0, level (11) in bits 3-2: 0b1101.
        assertEquals(0x0d, le(sci).getShort(8));

        List<Entry> nmis = entries.stream().filter(e -> e.type == 4).toList();
        assertEquals(1, nmis.size());
        byte[] nmi = nmis.get(0).bytes;
        assertEquals(6, nmi.length);
        assertEquals(0xff, nmi[2] & 0xff, "all processors");
        assertEquals(1, nmi[5], "LINT1");
    }

    @Test
    void vcpuCountOutsideTheXapicRangeIsAConfigError() {
        assertThrows(AcpiConfigException.class, () -> TestConfigs.pc(0));
        AcpiConfigException e = assertThrows(AcpiConfigException.class,
                () -> TestConfigs.pc(256));
        assertTrue(e.getMessage().contains("256"), e.getMessage());
    }

    @Test
    void mcfgAllocations() {
        byte[] m = AcpiTables.build(TestConfigs.pc(1,
                List.of(new AcpiConfig.EcamRegion(0xb000_0000L, 0, 0, 255),
                        new AcpiConfig.EcamRegion(0x40_0000_0000L, 1, 16, 31)), List.of()), BASE)
                .table("MCFG").bytes();
        assertEquals(44 + 2 * 16, m.length);
        assertEquals(1, m[8], "MCFG revision");
        assertEquals(0L, le(m).getLong(36), "reserved");
        assertEquals(0xb000_0000L, le(m).getLong(44));
        assertEquals(0, le(m).getShort(52));
        assertEquals(0, m[54]);
        assertEquals(255, m[55] & 0xff);
        assertEquals(0x40_0000_0000L, le(m).getLong(60));
        assertEquals(1, le(m).getShort(68));
        assertEquals(16, m[70]);
        assertEquals(31, m[71]);
        assertThrows(AcpiConfigException.class,
                () -> new AcpiConfig.EcamRegion(0xb008_0000L, 0, 0, 255));
        assertThrows(AcpiConfigException.class,
                () -> new AcpiConfig.EcamRegion(0xb000_0000L, 0, 10, 9));
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Test
    void dsdtHoldsTheSerialPortPowerButtonExtraDevicesAndS5() {
        byte[] extra = Aml.device("PCI0", Aml.hid("PNP0A03"));
        byte[] d = AcpiTables.build(TestConfigs.pc(1, List.of(), List.of(extra)), BASE)
                .table("DSDT").bytes();
        assertEquals(2, d[8], "DSDT revision 2: 64-bit integers");
        byte[] aml = Arrays.copyOfRange(d, 36, d.length);
        byte[] com1 = Aml.device("COM1", Aml.hid("PNP0501"), Aml.uid(1), Aml.sta(0x0f),
                Aml.crs(AmlResource.io(0x3f8, 0x3f8, 1, 8), AmlResource.irqNoFlags(4)));
        byte[] pwrb = Aml.device("PWRB", Aml.hid("PNP0C0C"), Aml.uid(0));
        byte[] expected = Aml.terms(Aml.scope("\\_SB", com1, pwrb, extra), Aml.s5(5, 0));
        assertEquals(Hex.of(expected), Hex.of(aml));
        // The hand-derived bytes of the two pieces Linux depends on most:
        // COM1's _CRS (see AmlTest.serialPortResourceTemplate) and \_S5.
        assertTrue(indexOf(aml, Hex.bytes("08 5F 43 52 53 11 10 0A 0D 47 01 F8 03 F8 03 01 08"
                + " 22 10 00 79 0E")) > 0);
        assertTrue(indexOf(aml, Hex.bytes("08 5F 53 35 5F 12 05 02 0A 05 00")) > 0);
    }

    @Test
    void eachSerialPortBecomesACommDevice() {
        AcpiConfig base = TestConfigs.pc(1);
        AcpiConfig two = new AcpiConfig(base.oem(), 1, base.localApicAddress(), base.ioApic(),
                base.interruptOverrides(),
                List.of(new AcpiConfig.SerialPort(0x3f8, 4), new AcpiConfig.SerialPort(0x2f8, 3)),
                base.powerRegisters(), base.platform(), List.of(), List.of());
        byte[] aml = Dsdt.aml(two);
        byte[] com2 = Aml.device("COM2", Aml.hid("PNP0501"), Aml.uid(2), Aml.sta(0x0f),
                Aml.crs(AmlResource.io(0x2f8, 0x2f8, 1, 8), AmlResource.irqNoFlags(3)));
        assertTrue(indexOf(aml, com2) > 0, Hex.of(aml));
        assertThrows(AcpiConfigException.class, () -> new AcpiConfig.SerialPort(0x3f8, 16));
    }

    @Test
    void extraAmlIsCopiedSoCallersCannotChangeAConfig() {
        byte[] extra = Aml.device("PCI0", Aml.hid("PNP0A03"));
        AcpiConfig c = TestConfigs.pc(1, List.of(), List.of(extra));
        extra[0] = 0;
        c.extraDeviceAml().get(0)[0] = 0;
        assertEquals(Aml.EXT_OP_PREFIX, c.extraDeviceAml().get(0)[0] & 0xff);
    }

    @Test
    void sizeDoesNotDependOnTheBase() {
        AcpiConfig c = TestConfigs.pc(64);
        long size = AcpiTables.size(c);
        assertEquals(size, AcpiTables.build(c, BASE).bytes().length);
        assertEquals(size, AcpiTables.build(c, GuestAddress.of(0x1_0000_0000L)).bytes().length);
    }

    @Test
    void unalignedBaseIsRejectedWithTheFix() {
        AcpiConfigException e = assertThrows(AcpiConfigException.class,
                () -> AcpiTables.build(TestConfigs.pc(1), GuestAddress.of(0xe0008)));
        assertTrue(e.getMessage().contains("16"), e.getMessage());
    }

    @Test
    void blobMustFitBelowTheTopOfTheAddressSpace() {
        assertThrows(ArithmeticException.class,
                () -> AcpiTables.build(TestConfigs.pc(1), GuestAddress.of(-16L)));
    }

    @Test
    void oemIdsAreValidated() {
        assertThrows(AcpiConfigException.class, () -> new AcpiConfig.OemIds("TOOLONG", "X", 1));
        assertThrows(AcpiConfigException.class, () -> new AcpiConfig.OemIds("OK", "NINECHARS", 1));
        assertThrows(AcpiConfigException.class, () -> new AcpiConfig.OemIds("", "X", 1));
    }
}
