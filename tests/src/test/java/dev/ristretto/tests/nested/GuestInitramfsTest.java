package dev.ristretto.tests.nested;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What guest-images/initramfs/build-initramfs.sh puts in the L2 image. The boot itself is checked
 * by {@link HardwareKvmHostIT}; here the archive is read back and checked member by member.
 */
class GuestInitramfsTest {

    @BeforeAll
    static void tools() {
        HostTools.assumeInstalled(HostTools.IMAGE_TOOLS);
    }

    private static final List<String> VIRTIO = List.of("virtio_pci", "virtio_blk", "virtio_net", "virtio_console", "virtio_rng");

    private static GuestImages.Kernel cloudKernelOrSkip() throws InterruptedException, IOException {
        try {
            return GuestImages.cloudKernel();
        } catch (DebianArchiveUnreachableException e) {
            assumeTrue(false, e.getMessage());
            throw e;
        }
    }

    @Test
    void plainImageHoldsBusyboxAndTheMarkerInit() throws Exception {
        NewcArchive image = NewcArchive.read(GuestImages.guestInitramfs());
        NewcArchive.Entry init = image.entries().get("init");
        assertTrue(init != null && init.isRegularFile(), "no /init in " + image.entries().keySet());
        assertEquals(0755, init.mode() & 0777, "/init must be executable");
        assertTrue(init.text().startsWith("#!/bin/busybox sh\n"));
        assertTrue(init.text().contains("echo \"RISTRETTO-GUEST-UP kernel=$(uname -r) cpus=$(nproc)\""));
        for (String action : List.of("reboot) reboot -f", "poweroff) poweroff -f", "shell)")) {
            assertTrue(init.text().contains(action), "init does not handle " + action);
        }
        assertTrue(image.entries().get("bin/busybox").data().length > 500_000, "busybox-static is a big binary");
        assertTrue(image.entries().keySet().stream().noneMatch(name -> name.endsWith(".ko")), "no modules asked for");
    }

    @Test
    void modulesComeWithTheirDependenciesInLoadOrder() throws Exception {
        GuestImages.Kernel kernel = cloudKernelOrSkip();
        NewcArchive image = NewcArchive.read(GuestImages.guestInitramfs(kernel, VIRTIO));
        List<String> order = image.entries().get("etc/modules.load").text().lines().toList();
        for (String ko : order) {
            assertTrue(image.entries().containsKey("lib/modules/" + ko), ko + " is listed but not in the image");
        }
        // Every requested module is there (file names use - or _ as the tree has them).
        for (String module : VIRTIO) {
            assertTrue(order.stream().anyMatch(ko -> ko.replace('-', '_').equals(module + ".ko")),
                    module + " missing from " + order);
        }
        // depmod's modules.dep ("kernel/a.ko: kernel/b.ko kernel/c.ko") is the reference for order.
        Map<String, List<String>> deps = modulesDep(kernel);
        for (int i = 0; i < order.size(); i++) {
            for (String dependency : deps.getOrDefault(order.get(i), List.of())) {
                int at = order.indexOf(dependency);
                assertTrue(at >= 0 && at < i, order.get(i) + " needs " + dependency + " loaded first: " + order);
            }
        }
        assertTrue(order.indexOf("virtio_ring.ko") < order.indexOf("virtio_pci.ko"), order.toString());
    }

    @Test
    void imagesAreCachedByTheirInputs() throws Exception {
        GuestImages.Kernel kernel = cloudKernelOrSkip();
        Path first = GuestImages.guestInitramfs(kernel, List.of("virtio_rng"));
        long modified = Files.getLastModifiedTime(first).toMillis();
        Path again = GuestImages.guestInitramfs(kernel, List.of("virtio_rng"));
        assertEquals(first, again);
        assertEquals(modified, Files.getLastModifiedTime(again).toMillis(), "a cached image was rebuilt");
        assertNotEquals(first, GuestImages.guestInitramfs(kernel, List.of("virtio_console")));
        assertNotEquals(first, GuestImages.guestInitramfs());
    }

    /** modules.dep by file name (the image flattens the tree into lib/modules/). */
    private static Map<String, List<String>> modulesDep(GuestImages.Kernel kernel) throws IOException {
        Path dep = kernel.directory().resolve("lib/modules").resolve(kernel.version()).resolve("modules.dep");
        var deps = new HashMap<String, List<String>>();
        for (String line : Files.readAllLines(dep)) {
            int colon = line.indexOf(':');
            var needed = new ArrayList<String>();
            for (String path : line.substring(colon + 1).trim().split("\\s+")) {
                if (!path.isEmpty()) {
                    needed.add(Path.of(path).getFileName().toString());
                }
            }
            deps.put(Path.of(line.substring(0, colon)).getFileName().toString(), needed);
        }
        return deps;
    }
}
