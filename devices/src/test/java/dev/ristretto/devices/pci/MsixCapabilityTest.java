package dev.ristretto.devices.pci;

import static dev.ristretto.devices.pci.LittleEndian.le;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class MsixCapabilityTest {

    private final List<String> sent = new ArrayList<>();
    private final List<String> routes = new ArrayList<>();
    private PciConfigSpace config;
    private MsixCapability msix;
    private int cap;

    @BeforeEach
    void setUp() {
        config = new PciConfigSpace(0x1af4, 0x1044, 1, 0xff0000, 0x1af4, 0x40, 1);
        msix = new MsixCapability(3, 0, 0x4000, 0, 0x5000, new MsiSink() {
            @Override
            public void signal(int vector, MsiMessage m) {
                sent.add(vector + ":" + Long.toHexString(m.address()) + "=" + Integer.toHexString(m.data()));
            }

            @Override
            public void messageChanged(int vector, MsiMessage m) {
                routes.add(vector + ":" + Long.toHexString(m.address()) + "=" + Integer.toHexString(m.data()));
            }
        });
        cap = msix.install(config);
    }

    private void control(int value) {
        config.write(cap + 2, le(value, 2));
        msix.controlWritten(config);
    }

    private void program(int vector, long address, int data) {
        msix.writeTable(vector * 16L, le(address, 8)); // a qword write of both address halves
        msix.writeTable(vector * 16L + 8, le(data, 4));
    }

    private void mask(int vector, boolean masked) {
        msix.writeTable(vector * 16L + 12, le(masked ? 1 : 0, 4));
    }

    @Test
    void capabilityDescribesTableAndPba() {
        assertEquals(0x11, config.read(cap, 1));
        assertEquals(2, config.read(cap + 2, 2), "table size is N - 1");
        assertEquals(0x4000, config.read(cap + 4, 4), "offset 0x4000, BIR 0");
        assertEquals(0x5000, config.read(cap + 8, 4));
        config.write(cap + 2, le(0xffff, 2));
        assertEquals(0xc002, config.read(cap + 2, 2), "only enable and function mask are writable");
        assertEquals(48, msix.tableSize());
        assertEquals(8, msix.pbaSize());
    }

    @Test
    void vectorsStartMaskedAndReadBack() {
        byte[] ctl = new byte[4];
        msix.readTable(12, ctl);
        assertEquals(1, ctl[0], "mask bit set after reset");
        program(1, 0xfee0_1000L, 0x4041);
        byte[] entry = new byte[16];
        msix.readTable(16, entry);
        assertEquals(0x00, entry[0]);
        assertEquals(0x10, entry[1]);
        assertEquals((byte) 0xe0, entry[2]);
        assertEquals((byte) 0xfe, entry[3]);
        assertEquals(0x41, entry[8]);
        assertEquals(1, entry[12], "programming the message leaves the mask alone");
        assertEquals(new MsiMessage(0xfee0_1000L, 0x4041), msix.message(1));
        msix.writeTable(12, le(0xffff_fffeL, 4));
        msix.readTable(12, ctl);
        assertEquals(0, ctl[0] | ctl[1] | ctl[2] | ctl[3], "reserved vector-control bits read 0");
    }

    @Test
    void disabledMsixDoesNotDeliver() {
        program(0, 0xfee0_0000L, 0x30);
        mask(0, false);
        assertFalse(msix.trigger(0), "disabled: the device must fall back to INTx");
        assertEquals(List.of(), sent);
    }

    @Test
    void maskedVectorGoesPendingAndIsSentOnUnmask() {
        control(0x8000);
        program(2, 0xfee0_0000L, 0x31);
        assertTrue(msix.trigger(2));
        assertEquals(List.of(), sent, "masked");
        assertTrue(msix.isPending(2));
        byte[] pba = new byte[8];
        msix.readPba(0, pba);
        assertEquals(0b100, pba[0]);
        msix.writeTable(0x20 + 12, le(0, 4)); // unmask vector 2 through a table write
        assertEquals(List.of("2:fee00000=31"), sent);
        assertFalse(msix.isPending(2));
        assertTrue(msix.trigger(2));
        assertEquals(List.of("2:fee00000=31", "2:fee00000=31"), sent, "unmasked: sent at once");
    }

    @Test
    void functionMaskHoldsEveryVector() {
        control(0x8000 | 0x4000);
        program(0, 0xfee0_0000L, 0x40);
        program(1, 0xfee0_0000L, 0x41);
        mask(0, false);
        mask(1, false);
        msix.trigger(0);
        msix.trigger(1);
        assertEquals(List.of(), sent);
        control(0x8000);
        assertEquals(List.of("0:fee00000=40", "1:fee00000=41"), sent, "pending vectors delivered on function unmask");
        assertFalse(msix.isPending(0));
        assertFalse(msix.isPending(1));
    }

    @Test
    void outOfRangeVectorIsNotDelivered() {
        control(0x8000);
        assertFalse(msix.trigger(3));
        assertFalse(msix.trigger(-1));
        byte[] b = new byte[4];
        msix.readTable(48, b);
        assertEquals(0, b[0]);
    }

    @Test
    void resetMasksEverythingAgain() {
        control(0x8000);
        program(0, 0xfee0_0000L, 0x40);
        mask(0, false);
        msix.reset(config);
        assertEquals(2, config.read(cap + 2, 2), "enable cleared in config space too");
        assertTrue(msix.isMasked(0));
        assertFalse(msix.isEnabled());
        assertEquals(new MsiMessage(0, 0), msix.message(0));
    }

    @Test
    void rewritingAnEntryReportsTheNewMessageForRouting() {
        program(1, 0xfee0_1000L, 0x51);
        assertEquals(List.of("1:fee01000=0", "1:fee01000=51"), routes, "address qword, then data");
        routes.clear();
        program(1, 0xfee0_1000L, 0x51);
        mask(1, false);
        assertEquals(List.of(), routes, "same values and mask changes need no new route");
    }
}
