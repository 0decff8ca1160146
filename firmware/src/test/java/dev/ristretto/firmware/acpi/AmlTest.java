package dev.ristretto.firmware.acpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * AML encodings against bytes worked out by hand from ACPI 6.5 §20 (grammar) and §20.3 (opcode
 * values). Each expectation's derivation is in the comment above it.
 */
class AmlTest {

    private static void assertBytes(String expectedHex, byte[] actual) {
        assertEquals(Hex.of(Hex.bytes(expectedHex)), Hex.of(actual));
    }

    @Test
    void nameSegIsPaddedWithUnderscores() {
        // 'C' 'O' 'M' = 43 4F 4D, padded with '_' = 5F (§19.2.2 / §20.2.2).
        assertBytes("43 4F 4D 5F", Aml.nameSeg("COM"));
        assertBytes("5F 53 35 5F", Aml.nameSeg("_S5"));
    }

    @Test
    void nameStringsWithPrefixesAndMultipleSegments() {
        // RootChar 5C, then a single NameSeg.
        assertBytes("5C 5F 53 42 5F", Aml.nameString("\\_SB"));
        // RootChar, DualNamePrefix 2E, "_SB_" "COM1".
        assertBytes("5C 2E 5F 53 42 5F 43 4F 4D 31", Aml.nameString("\\_SB.COM1"));
        // RootChar, MultiNamePrefix 2F, SegCount 03, three segments.
        assertBytes("5C 2F 03 5F 53 42 5F 50 43 49 30 49 53 41 5F",
                Aml.nameString("\\_SB.PCI0.ISA"));
        // Two ParentPrefixChars 5E, then "FOO_".
        assertBytes("5E 5E 46 4F 4F 5F", Aml.nameString("^^FOO"));
        // The root alone: RootChar followed by NullName 00.
        assertBytes("5C 00", Aml.nameString("\\"));
        // Relative single segment: just the NameSeg.
        assertBytes("5F 53 35 5F", Aml.nameString("_S5_"));
    }

    @ParameterizedTest
    @CsvSource({"com1", "1ABC", "ABCDE", "A-B", "''"})
    void invalidNameSegmentsAreRejected(String seg) {
        assertThrows(AmlException.class, () -> Aml.nameSeg(seg));
    }

    @Test
    void emptyPathSegmentIsRejected() {
        assertThrows(AmlException.class, () -> Aml.nameString("\\_SB..COM1"));
    }

    /**
     * PkgLength counts its own bytes (§20.2.4). One byte holds totals up to 63; the 2-byte form
     * holds 12 bits (to 4095), the 3-byte form 20 bits, the 4-byte form 28 bits. Lead byte: bits
     * 7-6 = number of following bytes, bits 3-0 = low nibble; following bytes carry bits 11-4,
     * 19-12, 27-20.
     */
    @ParameterizedTest
    @CsvSource({
        // content 0: total 1.
        "0, 01",
        // content 62: total 63 = 0x3F, the largest one-byte value.
        "62, 3F",
        // content 63: one byte would need 64; two bytes make total 65 = 0x041:
        // lead 0x40 | 0x1, next 0x04.
        "63, 41 04",
        // content 4093: total 4095 = 0xFFF, the largest two-byte value: 0x4F, 0xFF.
        "4093, 4F FF",
        // content 4094: two bytes would need 4096; three bytes make 4097 = 0x01001:
        // lead 0x80 | 0x1, then 0x00 (bits 11-4), 0x01 (bits 19-12).
        "4094, 81 00 01",
        // content 1048572: total 0xFFFFF, the largest three-byte value: 0x8F FF FF.
        "1048572, 8F FF FF",
        // content 1048573: four bytes, total 0x100001: 0xC1, 0x00, 0x00, 0x01.
        "1048573, C1 00 00 01",
    })
    void pkgLengthForms(int contentLength, String expectedHex) {
        assertBytes(expectedHex, Aml.pkgLength(contentLength));
    }

    /**
     * Every content length up to past the 3-byte boundary: decoding the PkgLength gives back
     * content + its own size, and the form is the shortest that can hold that total.
     */
    @Test
    void pkgLengthDecodesBackAndIsMinimal() {
        for (int n = 0; n <= 0x10_0010; n += (n < 5000 ? 1 : 97)) {
            byte[] p = Aml.pkgLength(n);
            int follow = (p[0] & 0xff) >>> 6;
            assertEquals(follow + 1, p.length, "form size for " + n);
            long value;
            if (follow == 0) {
                value = p[0] & 0x3f;
            } else {
                assertEquals(0, p[0] & 0x30, "bits 5-4 of a multi-byte lead are reserved");
                value = p[0] & 0x0f;
                for (int k = 1; k <= follow; k++) {
                    value |= (long) (p[k] & 0xff) << (4 + 8 * (k - 1));
                }
            }
            assertEquals(n + p.length, value, "decoded PkgLength for " + n);
            long[] maxForSize = {0x3f, 0xfff, 0xf_ffff, 0xfff_ffff};
            if (p.length > 1) {
                assertTrue(n + p.length - 1 > maxForSize[p.length - 2], "shorter form fits " + n);
            }
        }
    }

    @Test
    void pkgLengthAbove28BitsIsRejected() {
        assertThrows(AmlException.class, () -> Aml.pkgLength(0x0fff_fffc));
        assertEquals(4, Aml.pkgLength(0x0fff_fffb).length);
    }

    /** Integers take the smallest form (§20.2.3): ZeroOp, OneOp, OnesOp, 0A/0B/0C/0E prefixes. */
    @ParameterizedTest
    @CsvSource({
        "0, 00",
        "1, 01",
        "-1, FF",
        "2, 0A 02",
        "255, 0A FF",
        "256, 0B 00 01",
        "65535, 0B FF FF",
        "65536, 0C 00 00 01 00",
        "4294967295, 0C FF FF FF FF",
        "4294967296, 0E 00 00 00 00 01 00 00 00",
        "-2, 0E FE FF FF FF FF FF FF FF",
    })
    void integersUseTheSmallestEncoding(long value, String expectedHex) {
        assertBytes(expectedHex, Aml.integer(value));
    }

    @Test
    void stringIsPrefixedAndNullTerminated() {
        // StringPrefix 0D, 'A' 'B', NullChar.
        assertBytes("0D 41 42 00", Aml.string("AB"));
        assertThrows(AmlException.class, () -> Aml.string("é"));
    }

    @Test
    void smallBuffer() {
        // BufferOp 11; content = BufferSize (0A 03) + 3 data bytes = 5 bytes, PkgLength 6.
        assertBytes("11 06 0A 03 01 02 03", Aml.buffer(new byte[] {1, 2, 3}));
    }

    @Test
    void bufferNeedingTwoBytePkgLength() {
        // 100 data bytes: content = 0A 64 + 100 = 102; two-byte PkgLength total 104 = 0x68:
        // lead 0x40 | 0x8, next 0x06.
        byte[] b = Aml.buffer(new byte[100]);
        assertEquals(1 + 2 + 2 + 100, b.length);
        assertBytes("11 48 06 0A 64", java.util.Arrays.copyOf(b, 5));
    }

    @Test
    void s5Package() {
        // Name(_S5_, Package(){5, 0}):
        // NameOp 08, "_S5_" 5F 53 35 5F, PackageOp 12, PkgLength, NumElements 02,
        // 5 as BytePrefix 0A 05, 0 as ZeroOp 00. Content after PkgLength = 1 + 2 + 1 = 4 bytes,
        // PkgLength = 5.
        assertBytes("08 5F 53 35 5F 12 05 02 0A 05 00", Aml.s5(5, 0));
    }

    @Test
    void packageWithTooManyElementsIsRejected() {
        byte[][] elements = new byte[256][];
        java.util.Arrays.fill(elements, Aml.zero());
        assertThrows(AmlException.class, () -> Aml.pkg(elements));
        assertEquals(255, Aml.pkg(java.util.Arrays.copyOf(elements, 255))[3] & 0xff);
    }

    @Test
    void eisaIdCompression() {
        // "PNP" = 0x10, 0x0E, 0x10 -> (0x10 << 10 | 0x0E << 5 | 0x10) = 0x41D0; "0501" = 0x0501;
        // big-endian 0x41D00501 byte-swapped = 0x0105D041.
        assertEquals(0x0105D041, Aml.eisaId("PNP0501"));
        // "PNP0C0C": 0x41D00C0C swapped = 0x0C0CD041.
        assertEquals(0x0C0CD041, Aml.eisaId("PNP0C0C"));
        assertThrows(AmlException.class, () -> Aml.eisaId("pnp0501"));
    }

    @Test
    void hidAsEisaIdOrString() {
        // NameOp, "_HID" 5F 48 49 44, DWordPrefix 0C, 0x0105D041 little-endian 41 D0 05 01.
        assertBytes("08 5F 48 49 44 0C 41 D0 05 01", Aml.hid("PNP0501"));
        // Not a PNP id: a String "ACPI0006".
        assertBytes("08 5F 48 49 44 0D 41 43 50 49 30 30 30 36 00", Aml.hid("ACPI0006"));
    }

    @Test
    void methodReturningAConstant() {
        // Method(_STA, 0, NotSerialized) { Return (0x0F) }:
        // MethodOp 14, PkgLength, "_STA", flags 00, ReturnOp A4, 0A 0F.
        // Content = 4 + 1 + 3 = 8, PkgLength 9.
        assertBytes("14 09 5F 53 54 41 00 A4 0A 0F", Aml.sta(0x0f));
    }

    @Test
    void serializedMethodWithArguments() {
        // flags = ArgCount 2 | SerializeFlag 0x08 = 0x0A; body Return(One) = A4 01.
        // Content = 4 + 1 + 2 = 7, PkgLength 8.
        assertBytes("14 08 46 4F 4F 5F 0A A4 01",
                Aml.method("FOO", 2, true, Aml.returnValue(Aml.one())));
        assertThrows(AmlException.class, () -> Aml.method("FOO", 8, false));
    }

    @Test
    void deviceAndScope() {
        // Device(PWRB) { Name(_UID, Zero) }: ExtOpPrefix 5B, DeviceOp 82, PkgLength,
        // "PWRB", then 08 "_UID" 00. Content = 4 + 6 = 10, PkgLength 11 = 0x0B.
        assertBytes("5B 82 0B 50 57 52 42 08 5F 55 49 44 00", Aml.device("PWRB", Aml.uid(0)));
        // Scope(\_SB) {}: ScopeOp 10, PkgLength, 5C "_SB_". Content 5, PkgLength 6.
        assertBytes("10 06 5C 5F 53 42 5F", Aml.scope("\\_SB"));
    }

    @Test
    void serialPortResourceTemplate() {
        // ResourceTemplate() { IO(Decode16, 0x3F8, 0x3F8, 0x01, 0x08) IRQNoFlags() {4} }
        // IO descriptor (§6.4.2.5): tag 47, info 01 (16-bit decode), min F8 03, max F8 03,
        //   alignment 01, length 08.
        // IRQ descriptor without flags (§6.4.2.1): tag 22, mask 1 << 4 = 0x0010 -> 10 00.
        // End tag (§6.4.2.9): 79, checksum. Sum of the 13 bytes before the checksum:
        //   47+01+F8+03+F8+03+01+08 = 0x247; +22+10+00 = 0x279; +79 = 0x2F2 -> low byte F2,
        //   checksum = 0x100 - 0xF2 = 0x0E.
        // Buffer: 8 + 3 + 2 = 13 data bytes (BufferSize 0A 0D); content = 2 + 13 = 15,
        // PkgLength 16 = 0x10.
        assertBytes("11 10 0A 0D 47 01 F8 03 F8 03 01 08 22 10 00 79 0E",
                AmlResource.template(AmlResource.io(0x3f8, 0x3f8, 1, 8),
                        AmlResource.irqNoFlags(4)));
    }

    @Test
    void emptyTemplateIsOnlyTheEndTag() {
        // End tag 79 with checksum 0x100 - 0x79 = 0x87. Buffer: BufferSize 0A 02 + 2 data
        // bytes = 4 bytes of content, PkgLength 5.
        assertBytes("11 05 0A 02 79 87", AmlResource.template());
    }

    @Test
    void smallDescriptors() {
        // FixedIO(0x60, 1): tag 4B, base 60 00, length 01.
        assertBytes("4B 60 00 01", AmlResource.fixedIo(0x60, 1));
        // IRQ(Level, ActiveLow, Shared) {5}: tag 23, mask 20 00, info = _LL 08 | _SHR 10 = 18.
        assertBytes("23 20 00 18", AmlResource.irq(false, true, true, 5));
        // IRQ(Edge, ActiveHigh, Exclusive) {3, 4}: mask 18 00, info 01.
        assertBytes("23 18 00 01", AmlResource.irq(true, false, false, 3, 4));
        assertThrows(AmlException.class, () -> AmlResource.irqNoFlags(16));
        assertThrows(AmlException.class, () -> AmlResource.fixedIo(0x400, 1));
    }

    @Test
    void extendedInterrupt() {
        // Interrupt(ResourceConsumer, Level, ActiveHigh, Exclusive) {16}: tag 89, length 06 00
        // (flags + count + 4), flags 01 (consumer), count 01, 10 00 00 00.
        assertBytes("89 06 00 01 01 10 00 00 00",
                AmlResource.extendedInterrupt(true, false, false, false, 16));
        // Interrupt(ResourceConsumer, Edge, ActiveLow, Shared) {5, 0x100}: flags 01|02|04|08.
        assertBytes("89 0A 00 0F 02 05 00 00 00 00 01 00 00",
                AmlResource.extendedInterrupt(true, true, true, true, 5, 0x100));
    }

    @Test
    void addressSpaceDescriptors() {
        // WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100):
        // tag 88, length 0D 00 (3 + 5*2), type 02 (bus), general flags 0C (_MIF|_MAF),
        // type flags 00, _GRA 0000, _MIN 0000, _MAX FF00, _TRA 0000, _LEN 0001.
        assertBytes("88 0D 00 02 0C 00 00 00 00 00 FF 00 00 00 00 01",
                AmlResource.wordBusNumber(0, 0xff));
        // WordIO(..., EntireRange, 0, 0, 0xCF7, 0, 0xCF8): type 01, type flags 03 (_RNG).
        assertBytes("88 0D 00 01 0C 03 00 00 00 00 F7 0C 00 00 F8 0C",
                AmlResource.wordIo(0, 0xcf7));
        // DWordMemory(..., Cacheable, ReadWrite, 0, 0xC0000000, 0xFEBFFFFF, 0, 0x3EC00000):
        // tag 87, length 17 00 (3 + 5*4), type 00, flags 0C, type flags RW 1 | cacheable 1<<1.
        assertBytes("87 17 00 00 0C 03 00 00 00 00 00 00 00 C0 FF FF BF FE 00 00 00 00"
                + " 00 00 C0 3E",
                AmlResource.dwordMemory(AmlResource.Cacheability.CACHEABLE, true,
                        0xC000_0000L, 0xFEBF_FFFFL));
        // QWordMemory(..., Prefetchable, ReadWrite, 0, 0x8000000000, 0xFFFFFFFFFF, 0,
        // 0x8000000000): tag 8A, length 2B 00 (3 + 5*8), type flags 1 | 3<<1 = 07.
        assertBytes("8A 2B 00 00 0C 07"
                + " 00 00 00 00 00 00 00 00"
                + " 00 00 00 00 80 00 00 00"
                + " FF FF FF FF FF 00 00 00"
                + " 00 00 00 00 00 00 00 00"
                + " 00 00 00 00 80 00 00 00",
                AmlResource.qwordMemory(AmlResource.Cacheability.PREFETCHABLE, true,
                        0x80_0000_0000L, 0xFF_FFFF_FFFFL));
        // DWordIO(..., EntireRange, 0, 0x1000, 0xFFFF, 0, 0xF000) through the generic builder:
        // tag 87, length 17 00, type 01 (I/O), flags 0C, type flags 03.
        assertBytes("87 17 00 01 0C 03 00 00 00 00 00 10 00 00 FF FF 00 00 00 00 00 00"
                + " 00 F0 00 00",
                AmlResource.addressSpace(AmlResource.Width.DWORD, AmlResource.Space.IO,
                        AmlResource.IO_ENTIRE_RANGE, 0x1000, 0xffff));
        assertThrows(AmlException.class, () -> AmlResource.wordIo(0x10, 0x0f));
        // A full 64 KiB Word window is 0x10000 long: _LEN cannot hold it.
        assertThrows(AmlException.class, () -> AmlResource.wordIo(0, 0xffff));
        assertThrows(AmlException.class, () -> AmlResource.addressSpace(
                AmlResource.Width.QWORD, AmlResource.Space.MEMORY, 0, 0, -1L));
        assertThrows(AmlException.class, () -> AmlResource.dwordMemory(
                AmlResource.Cacheability.CACHEABLE, true, 0, 0x1_0000_0000L));
    }
}
