package dev.ristretto.cli;

import dev.ristretto.machine.ConfigFiles;
import dev.ristretto.machine.DiskConfig;
import dev.ristretto.machine.Machine;
import dev.ristretto.machine.MachineConfig;
import dev.ristretto.machine.MachineExit;
import dev.ristretto.machine.MemorySize;
import dev.ristretto.machine.NetConfig;
import dev.ristretto.machine.OnReboot;
import dev.ristretto.machine.SerialConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code ristretto run}: boot a Linux kernel. Every option is optional on the command line because
 * a {@code --config} file may carry it; options given here override the file, defaults fill the rest.
 */
@Command(name = "run",
        mixinStandardHelpOptions = true,
        versionProvider = RistrettoCommand.Version.class,
        description = {
            "Boot a Linux kernel (bzImage) with its console on this terminal.",
            "Press Ctrl-A x to quit; Ctrl-A Ctrl-A sends a literal Ctrl-A."
        },
        footer = {
            "",
            "Exit status: 0 when the guest powers off or reboots, 1 when the host or the guest fails,",
            "2 for a usage error.",
        })
public final class RunCommand implements Callable<Integer> {

    @Option(names = "--kernel", paramLabel = "FILE",
            description = "Kernel: a bzImage, or an ELF vmlinux (booted through PVH when it has the PVH note).")
    Path kernel;

    @Option(names = "--initrd", paramLabel = "FILE", description = "Initial ramdisk (initramfs) to load.")
    Path initrd;

    @Option(names = "--append", paramLabel = "CMDLINE",
            description = "Kernel command line (default: \"" + MachineConfig.DEFAULT_APPEND + "\").")
    String append;

    @Option(names = {"-m", "--memory"}, paramLabel = "SIZE", converter = SizeConverter.class,
            description = "Guest RAM, e.g. 512M or 2G (default: 512M, at least 32M).")
    MemorySize memory;

    @Option(names = {"-c", "--cpus"}, paramLabel = "N", description = "Number of vCPUs (default: 1).")
    Integer cpus;

    @Option(names = "--serial", paramLabel = "stdio|file:PATH|none", converter = SerialConverter.class,
            description = "Where COM1 goes (default: stdio).")
    SerialConfig serial;

    @Option(names = "--on-reboot", paramLabel = "exit|restart", converter = RebootConverter.class,
            description = "What a guest reboot does: end Ristretto with exit code 0 (default) or boot again.")
    OnReboot onReboot;

    @Option(names = "--acpi", arity = "1", paramLabel = "on|off", converter = OnOffConverter.class,
            description = "Describe the machine with ACPI tables (default: on); off leaves only the MP table.")
    Boolean acpi;

    @Option(names = "--dump-acpi", paramLabel = "DIR",
            description = "Write the generated ACPI tables to DIR (DSDT.aml, APIC.dat, …) before booting.")
    Path dumpAcpi;

    @Option(names = "--boot-protocol", paramLabel = "linux|pvh",
            description = "Force the boot protocol; by default a bzImage boots through its 64-bit entry, an ELF"
                    + " vmlinux with a PVH note through PVH, any other ELF through its 64-bit entry.")
    String bootProtocol;

    @Option(names = "--disk", paramLabel = "PATH[,ro][,serial=ID][,cache=none|writeback]",
            converter = DiskConverter.class,
            description = "A virtio-blk disk on a raw image (repeatable). The image is locked while in use.")
    List<DiskConfig> disks;

    @Option(names = "--net", paramLabel = "tap=NAME[,mac=MAC]|user[,mac=MAC]", converter = NetConverter.class,
            description = "A virtio-net device (repeatable) on an existing TAP device, or on passt (user"
                    + " networking: DHCP, DNS, outbound TCP/UDP without privileges).")
    List<NetConfig> nets;

    @Option(names = "--console", paramLabel = "serial|virtio",
            description = "The guest console: the 16550 UART (default) or virtio-console (hvc0; the UART still"
                    + " shows early messages). Changes the default --append to console=hvc0.")
    String console;

    @Option(names = "--rng", arity = "1", paramLabel = "on|off", converter = OnOffConverter.class,
            description = "A virtio-rng device fed from the host's entropy (default: on).")
    Boolean rng;

    @Option(names = "--cpu-template", paramLabel = "host|minimal",
            description = "CPUID the guest sees: everything KVM supports (host, default) or a conservative"
                    + " x86-64 baseline without AVX, XSAVE, TSX and friends (minimal), for guests that must"
                    + " not depend on the host CPU.")
    String cpuTemplate;

    @Option(names = "--config", paramLabel = "FILE",
            description = "JSON file holding any of these options; options given here override it.")
    Path config;

    @Option(names = "--print-config", description = "Print the effective configuration as JSON and exit.")
    boolean printConfig;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    private final Function<MachineConfig, MachineExit> launcher;

    public RunCommand() {
        this(Machine::run);
    }

    /** For tests: a launcher that records the configuration instead of booting it. */
    RunCommand(Function<MachineConfig, MachineExit> launcher) {
        this.launcher = launcher;
    }

    /** The configuration: file (if any), then these options, then defaults. */
    MachineConfig effectiveConfig() {
        MachineConfig base = config != null ? ConfigFiles.read(config) : MachineConfig.empty();
        MachineConfig given = new MachineConfig(abs(kernel), abs(initrd), append, memory, cpus, serial, onReboot, acpi,
                abs(dumpAcpi), bootProtocol,
                disks == null ? null : disks.stream().map(d -> d.withPath(abs(d.path()))).toList(), nets, console, rng,
                cpuTemplate);
        return base.overriddenBy(given).withDefaults();
    }

    private static Path abs(Path p) {
        return p == null ? null : p.toAbsolutePath().normalize();
    }

    @Override
    public Integer call() {
        MachineConfig effective = effectiveConfig();
        if (printConfig) {
            spec.commandLine().getOut().println(ConfigFiles.toJson(effective));
            spec.commandLine().getOut().flush();
            return 0;
        }
        MachineExit exit = launcher.apply(effective.validate());
        if (exit.exitCode() != 0 || exit.reportOnExit()) {
            var err = spec.commandLine().getErr();
            err.println("ristretto: " + exit.message());
            if (!exit.detail().isEmpty()) {
                err.println(exit.detail().stripTrailing());
            }
            err.flush();
        }
        return exit.exitCode();
    }

    static final class SizeConverter implements ITypeConverter<MemorySize> {
        @Override
        public MemorySize convert(String value) {
            return wrap(() -> MemorySize.parse(value));
        }
    }

    static final class SerialConverter implements ITypeConverter<SerialConfig> {
        @Override
        public SerialConfig convert(String value) {
            return wrap(() -> SerialConfig.parse(value));
        }
    }

    static final class RebootConverter implements ITypeConverter<OnReboot> {
        @Override
        public OnReboot convert(String value) {
            return wrap(() -> OnReboot.parse(value));
        }
    }

    static final class DiskConverter implements ITypeConverter<DiskConfig> {
        @Override
        public DiskConfig convert(String value) {
            return wrap(() -> DiskConfig.parse(value));
        }
    }

    static final class NetConverter implements ITypeConverter<NetConfig> {
        @Override
        public NetConfig convert(String value) {
            return wrap(() -> NetConfig.parse(value));
        }
    }

    static final class OnOffConverter implements ITypeConverter<Boolean> {
        @Override
        public Boolean convert(String value) {
            return switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "on", "true", "yes" -> Boolean.TRUE;
                case "off", "false", "no" -> Boolean.FALSE;
                default -> throw new TypeConversionException("'" + value + "' is not on or off");
            };
        }
    }

    /** Turns a parser's IllegalArgumentException into picocli's one-line usage error. */
    private static <T> T wrap(java.util.function.Supplier<T> parse) {
        try {
            return parse.get();
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }
}
