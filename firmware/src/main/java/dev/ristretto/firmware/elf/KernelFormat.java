package dev.ristretto.firmware.elf;

/** What kind of kernel file Ristretto was given, as {@link KernelFile} detects it. */
public enum KernelFormat {
    /** A Linux bzImage (boot.rst): boots with {@link BootProtocol#LINUX} only. */
    BZIMAGE,
    /** An x86-64 ELF with a XEN_ELFNOTE_PHYS32_ENTRY note: boots with PVH (default) or its 64-bit ELF entry. */
    ELF_PVH,
    /** An x86-64 ELF without the PVH note: boots with its 64-bit ELF entry only. */
    ELF
}
