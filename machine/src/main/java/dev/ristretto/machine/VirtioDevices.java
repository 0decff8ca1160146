package dev.ristretto.machine;

import dev.ristretto.devices.backend.FrameLinkBackend;
import dev.ristretto.devices.backend.RawImageBackend;
import dev.ristretto.devices.virtio.VirtioRng;
import dev.ristretto.devices.virtio.block.VirtioBlock;
import dev.ristretto.devices.virtio.console.VirtioConsole;
import dev.ristretto.devices.virtio.net.VirtioNet;
import dev.ristretto.vmm.host.io.CacheMode;
import dev.ristretto.vmm.host.io.DiskImageException;
import dev.ristretto.vmm.host.io.NetBackendException;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The virtio devices a configuration asks for, each with its host backend, plugged into the PCI
 * platform: disks (virtio-blk on raw images, locked), networks (virtio-net on TAP or passt), the
 * virtio console when it is the console, and virtio-rng. Backends are opened here, before any vCPU
 * runs, so a missing or locked image, a missing TAP device or a missing passt is one clear error
 * and the guest never starts. {@link #close} releases every backend.
 */
final class VirtioDevices implements AutoCloseable {
    private final List<AutoCloseable> backends = new ArrayList<>();
    private VirtioConsole console;

    static VirtioDevices attach(MachineConfig config, PciPlatform pci, HostConsole host) {
        VirtioDevices v = new VirtioDevices();
        try {
            v.attachAll(config, pci, host);
            return v;
        } catch (RuntimeException e) {
            v.close();
            throw e;
        }
    }

    private void attachAll(MachineConfig config, PciPlatform pci, HostConsole host) {
        for (int i = 0; i < config.disks().size(); i++) {
            DiskConfig d = config.disks().get(i);
            RawImageBackend backend;
            try {
                backend = RawImageBackend.open(d.path(), d.readOnly(), d.cacheNone() ? CacheMode.NONE : CacheMode.WRITEBACK);
            } catch (DiskImageException e) {
                throw new SetupException(SetupException.Kind.USAGE, e.getMessage(), e);
            }
            backends.add(backend);
            pci.addVirtio("blk" + i, new VirtioBlock(backend, d.serial() != null ? d.serial() : "ristretto-disk" + i));
        }
        for (int i = 0; i < config.nets().size(); i++) {
            NetConfig n = config.nets().get(i);
            FrameLinkBackend backend;
            try {
                backend = n.user() ? FrameLinkBackend.passt() : FrameLinkBackend.tap(n.tap());
            } catch (NetBackendException e) {
                throw new SetupException(SetupException.Kind.USAGE, e.getMessage(), e);
            }
            backends.add(backend);
            pci.addVirtio("net" + i, new VirtioNet(backend, n.mac() != null ? n.mac() : NetConfig.defaultMac(i)));
        }
        if (config.console().equals("virtio")) {
            console = new VirtioConsole(host.virtioSink());
            pci.addVirtio("console", console);
        }
        if (config.rng()) {
            // NativePRNG reads the kernel's urandom pool: the same source as getrandom(2).
            SecureRandom random = new SecureRandom();
            pci.addVirtio("rng", new VirtioRng(random::nextBytes));
        }
    }

    /** The virtio console, when the configuration made it the console. */
    Optional<VirtioConsole> console() {
        return Optional.ofNullable(console);
    }

    @Override
    public void close() {
        for (AutoCloseable b : backends) {
            try {
                b.close();
            } catch (IOException | RuntimeException e) {
                System.getLogger(VirtioDevices.class.getName()).log(System.Logger.Level.WARNING,
                        "closing a device backend: " + e.getMessage());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        backends.clear();
    }
}
