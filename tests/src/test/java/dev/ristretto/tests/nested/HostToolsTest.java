package dev.ristretto.tests.nested;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class HostToolsTest {

    @Test
    void reportsOnlyTheToolsThatAreNotFound() {
        assertEquals(List.of("ristretto-no-such-tool"), HostTools.missing(List.of("sh", "ristretto-no-such-tool")));
    }

    @Test
    void absolutePathsAreCheckedAsFiles() {
        assertTrue(HostTools.onPath("/bin/sh"));
        assertFalse(HostTools.onPath("/nonexistent/qemu-system-x86_64"));
    }

    @Test
    void explanationNamesTheToolsAndTheFix() {
        String why = HostTools.explainMissing(List.of("qemu-system-x86_64", "cpio"));
        assertTrue(why.startsWith("qemu-system-x86_64, cpio "), why);
        assertTrue(why.endsWith("run guest-images/install-deps.sh as root"), why);
    }

    @Test
    void l1NeedsQemuAndEveryImageTool() {
        assertTrue(HostTools.L1_TOOLS.contains("qemu-system-x86_64"));
        assertTrue(HostTools.L1_TOOLS.containsAll(HostTools.IMAGE_TOOLS));
    }
}
