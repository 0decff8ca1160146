package dev.ristretto.vmm.host.io;

import java.nio.file.Path;

/** Child JVM for RawImageTest: opens an image read-write, says LOCKED, holds it until stdin ends. */
public final class LockHolderMain {
    private LockHolderMain() {
    }

    public static void main(String[] args) throws Exception {
        try (RawImage img = RawImage.open(Path.of(args[0]), false, CacheMode.WRITEBACK)) {
            System.out.print("LOCKED\n");
            System.out.flush();
            System.in.readAllBytes();
        }
    }
}
