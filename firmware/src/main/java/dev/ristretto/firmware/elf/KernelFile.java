package dev.ristretto.firmware.elf;

import dev.ristretto.firmware.BzImage;
import dev.ristretto.firmware.KernelImageException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * A kernel file of any format Ristretto boots, detected by its content (never by its name): a
 * bzImage (the "HdrS" setup header, boot.rst), or an x86-64 ELF (the \x7fELF magic) with or
 * without the PVH note. {@link #protocol(Optional)} picks the entry protocol, or checks the one
 * the user forced.
 */
public sealed interface KernelFile {

    /** The detected format. */
    KernelFormat format();

    /** The file name or description used in messages. */
    String name();

    /**
     * The protocol to boot with: {@code forced} when given and the file supports it, otherwise
     * the file's default — LINUX for a bzImage and an ELF without the note, PVH for an ELF with
     * it (QEMU, Firecracker and Cloud Hypervisor all prefer PVH when the note is there: it needs
     * no page tables or zero page, and it is the entry Linux documents for direct ELF boot).
     *
     * @throws KernelImageException when the file does not support the forced protocol
     */
    BootProtocol protocol(Optional<BootProtocol> forced);

    /** A bzImage. */
    record BzImageFile(BzImage image) implements KernelFile {
        public BzImageFile {
            Objects.requireNonNull(image);
        }

        @Override
        public KernelFormat format() {
            return KernelFormat.BZIMAGE;
        }

        @Override
        public String name() {
            return image.name();
        }

        @Override
        public BootProtocol protocol(Optional<BootProtocol> forced) {
            if (forced.orElse(BootProtocol.LINUX) == BootProtocol.PVH) {
                throw new KernelImageException("kernel " + name() + ": is a bzImage, which has no PVH entry (the PVH note"
                        + " is only in the uncompressed ELF vmlinux); boot it with the linux protocol or pass the vmlinux");
            }
            return BootProtocol.LINUX;
        }
    }

    /** An x86-64 ELF kernel. */
    record ElfFile(ElfKernel kernel) implements KernelFile {
        public ElfFile {
            Objects.requireNonNull(kernel);
        }

        @Override
        public KernelFormat format() {
            return kernel.supportsPvh() ? KernelFormat.ELF_PVH : KernelFormat.ELF;
        }

        @Override
        public String name() {
            return kernel.name();
        }

        @Override
        public BootProtocol protocol(Optional<BootProtocol> forced) {
            if (forced.isEmpty()) {
                return kernel.supportsPvh() ? BootProtocol.PVH : BootProtocol.LINUX;
            }
            switch (forced.get()) {
                case PVH -> kernel.requirePvhEntry(); // throws without the PVH note
                case LINUX -> kernel.entry64(); // throws when e_entry is not in the loaded image
            }
            return forced.get();
        }
    }

    /**
     * Reads and detects the kernel at {@code path}.
     *
     * @throws KernelImageException when the file cannot be read, is neither a bzImage nor an ELF,
     *                              or is a damaged one of them
     */
    static KernelFile load(Path path) {
        return parse(path.toString(), KernelBytes.read(path));
    }

    /**
     * Detects {@code bytes}; {@code name} is used in messages. The array is not copied.
     *
     * @throws KernelImageException when the bytes are neither a bzImage nor an x86-64 ELF
     */
    static KernelFile parse(String name, byte[] bytes) {
        Objects.requireNonNull(name);
        Objects.requireNonNull(bytes);
        if (ElfKernel.isElf(bytes)) {
            return new ElfFile(ElfKernel.parse(name, bytes));
        }
        if (BzImage.hasSetupHeaderMagic(bytes)) {
            return new BzImageFile(BzImage.parse(name, bytes));
        }
        throw new KernelImageException("kernel " + name + ": not a bzImage (no HdrS magic at 0x202) and not an ELF file"
                + " (no \\x7fELF magic); pass a Linux bzImage, a vmlinux or another x86-64 ELF kernel");
    }
}
