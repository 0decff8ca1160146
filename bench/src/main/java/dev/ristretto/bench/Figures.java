package dev.ristretto.bench;

import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.device.BusDevice;
import dev.ristretto.vmm.kvm.Capability;
import dev.ristretto.vmm.kvm.Kvm;
import dev.ristretto.vmm.kvm.Regs;
import dev.ristretto.vmm.kvm.Sregs;
import dev.ristretto.vmm.kvm.VcpuFd;
import dev.ristretto.vmm.kvm.VmFd;
import dev.ristretto.vmm.host.HostMemory;
import dev.ristretto.vmm.memory.GuestAddress;
import dev.ristretto.vmm.memory.GuestMemory;
import dev.ristretto.vmm.memory.GuestRegion;
import dev.ristretto.vmm.memory.RamRange;
import dev.ristretto.vmm.vcpu.VcpuRunner;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Prints the figures issue #2 asks for, in one run:
 * <ol>
 *   <li>the cost of one KVM_CHECK_EXTENSION ioctl through our FFM layer (the C figure is printed
 *       next to it by bench/run.sh);</li>
 *   <li>the port-I/O exit round trip: a real-mode guest executes one million {@code out}
 *       instructions, each a KVM_EXIT_IO handled by our run loop and bus;</li>
 *   <li>process start to the guest's first serial byte, and the process's peak RSS, for
 *       {@code ristretto run} booting each kernel given: a freestanding probe guest that prints at
 *       once (the VMM's own start-up cost) and Debian's kernel (which first decompresses itself,
 *       in KVM's instruction emulator on an emulation-only host).</li>
 * </ol>
 * Usage: {@code Figures <java> <module path> <kernel>...}. Timings are not asserted anywhere.
 */
public final class Figures {
    private static final int OUTS = 1_000_000;

    private Figures() {
    }

    public static void main(String[] args) throws Exception {
        System.out.printf(Locale.ROOT, "ioctl KVM_CHECK_EXTENSION via FFM: %.1f ns/call%n", ioctlCost());
        System.out.printf(Locale.ROOT, "port-I/O exit round trip (1e6 outs, real mode): %.2f us/exit%n", portIoRoundTrip());
        for (int i = 2; i < args.length; i++) {
            firstByteAndRss(Path.of(args[i]), args[0], args[1]);
        }
    }

    /** Best of 5 rounds of 2e6 calls after a warm-up; the same shape as ioctl_bench.c. */
    static double ioctlCost() {
        try (Kvm kvm = Kvm.open()) {
            int cap = Capability.USER_MEMORY.number();
            long sink = 0;
            for (int i = 0; i < 200_000; i++) {
                sink += kvm.checkExtension(cap);
            }
            double best = Double.MAX_VALUE;
            int n = 2_000_000;
            for (int round = 0; round < 5; round++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    sink += kvm.checkExtension(cap);
                }
                best = Math.min(best, (System.nanoTime() - t0) / (double) n);
            }
            if (sink == 0) {
                throw new IllegalStateException("KVM_CAP_USER_MEMORY reported absent");
            }
            return best;
        }
    }

    /**
     * Real-mode guest at 0x1000:
     * <pre>
     *   66 b9 40 42 0f 00   mov ecx, 1000000
     * loop:
     *   e6 80               out 0x80, al
     *   66 49               dec ecx
     *   75 fa               jnz loop
     *   e6 81               out 0x81, al     ; done
     *   eb fe               jmp $
     * </pre>
     */
    static double portIoRoundTrip() throws InterruptedException {
        byte[] code = {0x66, (byte) 0xb9, 0x40, 0x42, 0x0f, 0x00, (byte) 0xe6, (byte) 0x80, 0x66, 0x49, 0x75,
            (byte) 0xfa, (byte) 0xe6, (byte) 0x81, (byte) 0xeb, (byte) 0xfe};
        try (Kvm kvm = Kvm.open(); VmFd vm = kvm.createVm();
             HostMemory host = HostMemory.mapAnonymous(List.of(new RamRange(GuestAddress.of(0), 1 << 20)))) {
            GuestMemory mem = host.guestMemory();
            for (GuestRegion r : mem.regions()) {
                vm.setUserMemoryRegion(0, r.start(), r.segment(), 0);
            }
            mem.write(GuestAddress.of(0x1000), code);
            AtomicLong outs = new AtomicLong();
            CountDownLatch done = new CountDownLatch(1);
            long[] end = new long[1];
            BusDevice counter = new BusDevice() {
                @Override
                public void read(long offset, byte[] data) {
                }

                @Override
                public void write(long offset, byte[] data) {
                    if (offset == 0) {
                        outs.incrementAndGet();
                    } else {
                        end[0] = System.nanoTime();
                        done.countDown();
                    }
                }
            };
            Bus io = Bus.builder("io").insert(0x80, 2, "counter", counter).build();
            VcpuFd vcpu = vm.createVcpu(0);
            Sregs s = vcpu.getSregs();
            vcpu.setSregs(s.withCs(s.cs().withBase(0).withSelector(0)));
            vcpu.setRegs(Regs.initial().withRip(0x1000));
            List<VcpuFd> vcpus = new ArrayList<>(List.of(vcpu));
            try (VcpuRunner runner = new VcpuRunner(vcpus, io, Bus.builder("mmio").build(), mem, t -> done.countDown())) {
                long t0 = System.nanoTime();
                runner.start();
                if (!done.await(10, TimeUnit.MINUTES)) {
                    throw new IllegalStateException("guest did not finish its outs in 10 minutes");
                }
                if (outs.get() != OUTS) {
                    throw new IllegalStateException("guest stopped after " + outs.get() + " outs");
                }
                return (end[0] - t0) / 1000.0 / OUTS;
            }
        }
    }

    /** Starts ristretto on {@code kernel}; reports ms to the first stdout byte and VmHWM after 20 s. */
    static void firstByteAndRss(Path kernel, String java, String modulePath) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(java, "--enable-native-access=ristretto.vmm.core", "-XX:+UseSerialGC",
                "-p", modulePath, "-m", "ristretto.cli/dev.ristretto.cli.Main", "run", "--kernel", kernel.toString(),
                "--memory", "256M", "--append", "console=ttyS0 earlyprintk=serial")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try (InputStream out = p.getInputStream()) {
            int b = out.read();
            long firstByte = System.nanoTime() - t0;
            System.out.printf(Locale.ROOT, "%s: process start to first serial byte: %d ms%s%n", kernel.getFileName(),
                    firstByte / 1_000_000, b < 0 ? " (no output)" : "");
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            byte[] sinkBuf = new byte[8192];
            String hwm = "?";
            while (System.nanoTime() < deadline && p.isAlive()) {
                if (out.available() > 0) {
                    out.read(sinkBuf);
                } else {
                    Thread.sleep(50);
                }
                hwm = vmHwm(p.pid(), hwm);
            }
            System.out.printf(Locale.ROOT, "%s: peak RSS (VmHWM) over the first 20 s (or until exit), 256M guest: %s%n",
                    kernel.getFileName(), hwm);
        } finally {
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
            p.destroyForcibly();
        }
    }

    private static String vmHwm(long pid, String last) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmHWM:")) {
                    return line.substring("VmHWM:".length()).trim();
                }
            }
        } catch (IOException e) {
            return last;
        }
        return last;
    }
}
