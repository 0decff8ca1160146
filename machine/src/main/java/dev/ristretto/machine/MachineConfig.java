package dev.ristretto.machine;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import dev.ristretto.firmware.elf.BootProtocol;
import dev.ristretto.vmm.vcpu.CpuTemplate;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Everything {@code ristretto run} can be told, as one JSON-serialisable record. A field left
 * {@code null} means "not given here": {@link #overriddenBy} layers command-line options over a
 * config file, {@link #withDefaults} fills the rest, {@link #validate} checks what can be checked
 * without touching KVM.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"kernel", "initrd", "append", "memory", "cpus", "serial", "onReboot", "acpi", "dumpAcpi",
        "bootProtocol", "disks", "nets", "console", "rng", "cpuTemplate"})
public record MachineConfig(
        @JsonSerialize(using = ToStringSerializer.class) Path kernel,
        @JsonSerialize(using = ToStringSerializer.class) Path initrd,
        String append,
        MemorySize memory,
        Integer cpus,
        SerialConfig serial,
        OnReboot onReboot,
        Boolean acpi,
        @JsonSerialize(using = ToStringSerializer.class) Path dumpAcpi,
        String bootProtocol,
        List<DiskConfig> disks,
        List<NetConfig> nets,
        String console,
        Boolean rng,
        String cpuTemplate) {

    public MachineConfig {
        disks = disks == null ? null : List.copyOf(disks);
        nets = nets == null ? null : List.copyOf(nets);
    }

    public static final MemorySize DEFAULT_MEMORY = MemorySize.ofMiB(512);
    /** Without console=ttyS0 a kernel writes to a VGA console this machine does not have. */
    public static final String DEFAULT_APPEND = "console=ttyS0";
    /** Linux needs more than this to decompress and boot at all; smaller guests are a typo. */
    public static final MemorySize MIN_MEMORY = MemorySize.ofMiB(32);
    /** The xAPIC ID is 8 bits and 0xff is the broadcast ID (Intel SDM vol 3 §11.4.6). */
    public static final int MAX_CPUS = 254;

    public static MachineConfig empty() {
        return new MachineConfig(null, null, null, null, null, null, null, null, null, null, null, null, null, null, null);
    }

    /** This configuration with every non-null field of {@code o} taking precedence. */
    public MachineConfig overriddenBy(MachineConfig o) {
        return new MachineConfig(
                o.kernel != null ? o.kernel : kernel,
                o.initrd != null ? o.initrd : initrd,
                o.append != null ? o.append : append,
                o.memory != null ? o.memory : memory,
                o.cpus != null ? o.cpus : cpus,
                o.serial != null ? o.serial : serial,
                o.onReboot != null ? o.onReboot : onReboot,
                o.acpi != null ? o.acpi : acpi,
                o.dumpAcpi != null ? o.dumpAcpi : dumpAcpi,
                o.bootProtocol != null ? o.bootProtocol : bootProtocol,
                o.disks != null ? o.disks : disks,
                o.nets != null ? o.nets : nets,
                o.console != null ? o.console : console,
                o.rng != null ? o.rng : rng,
                o.cpuTemplate != null ? o.cpuTemplate : cpuTemplate);
    }

    /** Fills every field the user left out with Ristretto's default. */
    public MachineConfig withDefaults() {
        String con = console != null ? console : "serial";
        return new MachineConfig(kernel, initrd,
                append != null ? append : (con.equals("virtio") ? "console=hvc0" : DEFAULT_APPEND),
                memory != null ? memory : DEFAULT_MEMORY,
                cpus != null ? cpus : 1,
                serial != null ? serial : SerialConfig.STDIO,
                onReboot != null ? onReboot : OnReboot.EXIT,
                acpi != null ? acpi : Boolean.TRUE,
                dumpAcpi,
                bootProtocol,
                disks != null ? disks : List.of(),
                nets != null ? nets : List.of(),
                con,
                rng != null ? rng : Boolean.TRUE,
                cpuTemplate != null ? cpuTemplate : "host");
    }

    /**
     * Checks what can be checked before KVM is touched. Throws {@link SetupException} (usage) with
     * one sentence naming the value and the fix.
     */
    public MachineConfig validate() {
        if (kernel == null) {
            throw SetupException.usage("no kernel given: pass --kernel PATH (a bzImage, e.g. Debian's /boot/vmlinuz-*)");
        }
        requireReadableFile("kernel", kernel, "--kernel");
        if (initrd != null) {
            requireReadableFile("initrd", initrd, "--initrd");
        }
        if (memory.bytes() < MIN_MEMORY.bytes()) {
            throw SetupException.usage("memory " + memory + " is too small: a Linux guest needs at least "
                    + MIN_MEMORY + " (e.g. --memory 512M)");
        }
        if (memory.bytes() % 4096 != 0) {
            throw SetupException.usage("memory " + memory.bytes() + " bytes is not a whole number of 4 KiB pages"
                    + " (write it like 512M or 2G)");
        }
        if (cpus < 1 || cpus > MAX_CPUS) {
            throw SetupException.usage("cpus " + cpus + " is out of range: use --cpus between 1 and " + MAX_CPUS);
        }
        if (bootProtocol != null) {
            try {
                BootProtocol.fromCliName(bootProtocol);
            } catch (IllegalArgumentException e) {
                throw SetupException.usage(e.getMessage() + " (--boot-protocol)");
            }
        }
        try {
            CpuTemplate.parse(cpuTemplate);
        } catch (IllegalArgumentException e) {
            throw SetupException.usage(e.getMessage() + " (--cpu-template)");
        }
        if (!console.equals("serial") && !console.equals("virtio")) {
            throw SetupException.usage("console '" + console + "' is unknown: use --console serial or virtio");
        }
        Set<String> serials = new HashSet<>();
        Set<Path> images = new HashSet<>();
        for (DiskConfig d : disks) {
            requireReadableFile("disk", d.path(), "--disk");
            if (!images.add(realPath(d.path()))) {
                throw SetupException.usage("disk " + d.path() + " is given twice: one image can back only one disk"
                        + " (copy it for a second disk)");
            }
            if (d.serial() != null && !serials.add(d.serial())) {
                throw SetupException.usage("two disks have the serial '" + d.serial() + "': give each --disk its own serial=ID");
            }
        }
        Set<String> macs = new HashSet<>();
        for (NetConfig n : nets) {
            if (n.mac() != null && !macs.add(NetConfig.format(n.mac()))) {
                throw SetupException.usage("two networks have the MAC " + NetConfig.format(n.mac())
                        + ": give each --net its own mac=MAC");
            }
        }
        if (append.indexOf('\0') >= 0 || append.indexOf('\n') >= 0) {
            throw SetupException.usage("the kernel command line (--append) must be one line without NUL bytes");
        }
        return this;
    }

    private static Path realPath(Path p) {
        try {
            return p.toRealPath();
        } catch (java.io.IOException e) {
            return p.toAbsolutePath().normalize();
        }
    }

    private static void requireReadableFile(String what, Path p, String option) {
        if (!Files.exists(p)) {
            throw SetupException.usage(what + " " + p + " does not exist (check the path given to " + option + ")");
        }
        if (Files.isDirectory(p)) {
            throw SetupException.usage(what + " " + p + " is a directory, not a file (give " + option + " the file itself)");
        }
        if (!Files.isReadable(p)) {
            throw SetupException.usage(what + " " + p + " is not readable by this user (fix its permissions, e.g. chmod a+r)");
        }
    }
}
