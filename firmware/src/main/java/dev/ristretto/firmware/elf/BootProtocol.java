package dev.ristretto.firmware.elf;

import java.util.Locale;

/** How Ristretto enters a kernel. */
public enum BootProtocol {
    /**
     * Linux's 64-bit boot protocol (boot.rst "64-bit BOOT PROTOCOL"): long mode, %rsi =
     * boot_params. For a bzImage the entry is load address + 0x200; for an ELF, e_entry.
     */
    LINUX,
    /** The Xen PVH direct boot ABI (docs/misc/pvh.pandoc): 32-bit protected mode, %ebx = start_info. */
    PVH;

    /** The name users write: "linux" or "pvh". */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The protocol named {@code name} ("linux" or "pvh", any case).
     *
     * @throws IllegalArgumentException naming the accepted values when {@code name} is neither
     */
    public static BootProtocol fromCliName(String name) {
        for (BootProtocol p : values()) {
            if (p.cliName().equalsIgnoreCase(name.strip())) {
                return p;
            }
        }
        throw new IllegalArgumentException("boot protocol '" + name + "' is unknown; use linux or pvh");
    }
}
