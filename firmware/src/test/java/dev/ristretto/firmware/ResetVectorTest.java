package dev.ristretto.firmware;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ResetVectorTest {

    @Test
    void stubFillsTheLastSixteenBytesBelowOneMebibyte() {
        assertEquals(0xffff0, Layout.RESET_VECTOR.value());
        assertEquals(Layout.BIOS_AREA_END.value(), Layout.RESET_VECTOR.value() + ResetVector.bytes().length);
    }

    @Test
    void stubPulsesTheI8042ResetLineThenHalts() {
        byte[] b = ResetVector.bytes();
        // mov al,0xfe; out 0x64,al; cli; hlt; jmp short back to cli; hlt padding.
        assertArrayEquals(new byte[] {(byte) 0xb0, (byte) 0xfe, (byte) 0xe6, 0x64, (byte) 0xfa, (byte) 0xf4,
            (byte) 0xeb, (byte) 0xfc, (byte) 0xf4, (byte) 0xf4, (byte) 0xf4, (byte) 0xf4, (byte) 0xf4, (byte) 0xf4,
            (byte) 0xf4, (byte) 0xf4}, b);
        // The short jump at offset 6 lands on the cli at offset 4: next ip 8, displacement -4.
        assertEquals(4, 8 + b[7]);
    }
}
