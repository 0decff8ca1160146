package dev.ristretto.vmm.vcpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ristretto.vmm.device.Bus;
import dev.ristretto.vmm.device.BusDevice;
import dev.ristretto.vmm.kvm.Regs;
import dev.ristretto.vmm.kvm.VcpuExit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The vCPU threads: start, terminal events, stop() kicking guests out of KVM_RUN, cleanup. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VcpuRunnerIT {
    static final int ID_PORT = 0x510;
    /** Bound on stop(): KVM_RUN returns within a scheduler tick of the signal; 10 s is very generous. */
    static final Duration STOP_BOUND = Duration.ofSeconds(10);

    private static final Bus NO_MMIO = Bus.builder("mmio").build();

    /** The guest every vCPU runs: report AL (its index) on port 0x510, then spin forever. */
    private static byte[] reportAndSpin() {
        // mov dx, 0x510 ; out dx, al ; 1: jmp 1b
        return HexFormat.of().parseHex("ba1005" + "ee" + "ebfe");
    }

    private static List<Thread> vcpuThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("vcpu-") && t.isAlive()).toList();
    }

    private static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    @Test
    void fourSpinningVcpusStopWithinABoundAndLeaveNothingBehind() throws Exception {
        long fdsBefore = openFds();
        Set<Integer> seen = ConcurrentHashMap.newKeySet();
        CountDownLatch allRunning = new CountDownLatch(4);
        BusDevice idPort = new BusDevice() {
            @Override
            public void read(long offset, byte[] data) {
            }

            @Override
            public void write(long offset, byte[] data) {
                if (seen.add((int) data[0])) {
                    allRunning.countDown();
                }
            }
        };
        Bus io = Bus.builder("io").insert(ID_PORT, 1, "id", idPort).build();
        List<VcpuRunner.Termination> events = new CopyOnWriteArrayList<>();
        try (TinyVm vm = TinyVm.create(4)) {
            vm.load(0x1000, reportAndSpin());
            for (int i = 0; i < 4; i++) {
                vm.realMode(vm.vcpu(i), 0x1000);
                vm.vcpu(i).setRegs(vm.vcpu(i).getRegs().withRax(i));
            }
            VcpuRunner runner = vm.runner(io, NO_MMIO, events::add);
            runner.start();
            assertTrue(allRunning.await(60, TimeUnit.SECONDS), "vCPUs that reported: " + seen);
            assertEquals(Set.of(0, 1, 2, 3), seen);
            assertEquals(List.of("vcpu-0", "vcpu-1", "vcpu-2", "vcpu-3"),
                    vcpuThreads().stream().map(Thread::getName).sorted().toList());

            long t0 = System.nanoTime();
            runner.stop();
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            assertTrue(took.compareTo(STOP_BOUND) < 0, "stop() took " + took);
            assertFalse(runner.isRunning());
            assertEquals(List.of(), vcpuThreads());
            runner.stop(); // idempotent
            runner.close();
            assertEquals(List.of(), events, "a stop() is not a guest event");
        }
        assertEquals(fdsBefore, openFds(), "fds left open after close");
    }

    @Test
    void aGuestSpinningForeverIsKickedOutByStopFromAnotherThread() throws Exception {
        try (TinyVm vm = TinyVm.create(1)) {
            // 1: inc rax ; jmp 1b   (64-bit: the counter shows the guest really ran)
            vm.load(TinyVm.CODE, HexFormat.of().parseHex("48ffc0" + "ebfb"));
            vm.longMode(vm.vcpu(0), TinyVm.CODE);
            VcpuRunner runner = vm.runner(Bus.builder("io").build(), NO_MMIO, t -> { });
            runner.start();
            Thread.sleep(300);
            assertTrue(runner.isRunning());
            Thread stopper = Thread.ofPlatform().name("stopper").start(runner::stop);
            stopper.join(STOP_BOUND);
            assertFalse(stopper.isAlive(), "stop() did not return within " + STOP_BOUND);
            assertFalse(runner.isRunning());
            Regs regs = vm.vcpu(0).getRegs();
            assertTrue(regs.rax() > 0, "the guest never ran: RAX = " + regs.rax());
            runner.close();
        }
    }

    /**
     * The signal-stop race: a stop() from another thread can still be running when the main
     * thread, woken by the same exit, closes the runner. A stop() that comes after close() must do
     * nothing (the vCPUs' kvm_run mappings are gone), and stops racing a close must not fail.
     */
    @Test
    void stopAfterOrDuringCloseIsHarmless() throws Exception {
        for (int round = 0; round < 20; round++) {
            try (TinyVm vm = TinyVm.create(2)) {
                vm.load(TinyVm.CODE, HexFormat.of().parseHex("48ffc0" + "ebfb"));
                vm.longMode(vm.vcpu(0), TinyVm.CODE);
                vm.longMode(vm.vcpu(1), TinyVm.CODE);
                VcpuRunner runner = vm.runner(Bus.builder("io").build(), NO_MMIO, t -> { });
                runner.start();
                List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
                Thread stopper = Thread.ofPlatform().name("stopper").start(() -> {
                    try {
                        for (int i = 0; i < 50; i++) {
                            runner.stop();
                        }
                    } catch (RuntimeException | Error e) {
                        failures.add(e);
                    }
                });
                runner.close();
                stopper.join(STOP_BOUND);
                assertFalse(stopper.isAlive(), "stop() did not return within " + STOP_BOUND);
                runner.stop();
                assertEquals(List.of(), failures);
            }
        }
    }

    /**
     * The machine's pattern: the first vCPU to stop (here: HLT on vCPU 0) makes the listener
     * call stop() on its own thread, which must kick the spinning vCPU 1 and not deadlock.
     */
    @Test
    void listenerMayStopTheVmFromAVcpuThread() throws Exception {
        List<VcpuRunner.Termination> events = new CopyOnWriteArrayList<>();
        VcpuRunner[] holder = new VcpuRunner[1];
        try (TinyVm vm = TinyVm.create(2)) {
            vm.load(0x1000, HexFormat.of().parseHex("f4"));      // hlt
            vm.load(0x2000, HexFormat.of().parseHex("ebfe"));    // 1: jmp 1b
            vm.realMode(vm.vcpu(0), 0x1000);
            vm.realMode(vm.vcpu(1), 0x2000);
            VcpuRunner runner = vm.runner(Bus.builder("io").build(), NO_MMIO, t -> {
                events.add(t);
                holder[0].stop();
            });
            holder[0] = runner;
            runner.start();
            assertTrue(runner.awaitTermination(Duration.ofSeconds(30)), "vCPUs still running");
            assertEquals(1, events.size(), events.toString());
            VcpuRunner.Termination t = events.get(0);
            assertEquals(0, t.vcpu());
            assertEquals(ExitOutcome.Reason.HALT, t.stop().reason());
            assertInstanceOf(VcpuExit.Hlt.class, t.exit());
            assertNull(t.error());
            assertTrue(t.diagnostics().contains("RIP=0000000000001001"), t.diagnostics());
            runner.close();
            assertEquals(List.of(), vcpuThreads());
        }
    }

    @Test
    void guestFailureReachesTheListenerWithDiagnostics() throws Exception {
        List<VcpuRunner.Termination> events = new CopyOnWriteArrayList<>();
        try (TinyVm vm = TinyVm.create(1)) {
            // mov ebx, 0xd0000000 ; paddd xmm0, [rbx]   (see GuestIT for why this fails everywhere)
            vm.load(TinyVm.CODE, HexFormat.of().parseHex("bb000000d0" + "660ffe03"));
            vm.longMode(vm.vcpu(0), TinyVm.CODE);
            VcpuRunner runner = vm.runner(Bus.builder("io").build(), NO_MMIO, events::add);
            runner.start();
            assertTrue(runner.awaitTermination(Duration.ofSeconds(30)));
            assertEquals(1, events.size());
            VcpuRunner.Termination t = events.get(0);
            assertEquals(ExitOutcome.Reason.INTERNAL_ERROR, t.stop().reason());
            assertTrue(t.diagnostics().contains("=66 0f fe 03"), t.diagnostics());
            runner.close();
        }
    }
}
