package dev.ristretto.firmware;

/**
 * The 16 bytes at the reset vector ({@link Layout#RESET_VECTOR}, F000:FFF0). On a PC the BIOS's
 * far jump to its POST code sits here; Ristretto has no BIOS, and a guest that jumps here wants the
 * machine reset. Linux does exactly that when its reboot method is "BIOS" — which it chooses by
 * itself on hardware-reduced ACPI (arch/x86/kernel/reboot.c, reboot_init: efi_reboot_required() is
 * true for reduced hardware; without EFI, BOOT_EFI falls through to BOOT_BIOS, machine_real_restart,
 * {@code ljmpw $0xf000,$0xfff0}). So the stub pulses the reset line through the i8042
 * (command 0xFE, IBM PS/2 Technical Reference "Keyboard Controller", command FE) and halts:
 * <pre>
 *   b0 fe     mov  al, 0xfe
 *   e6 64     out  0x64, al      ; i8042: pulse output port bit 0 = CPU reset
 *   fa        cli
 *   f4        hlt
 *   eb fc     jmp  short $-4     ; (to cli) should the reset not come
 * </pre>
 * Real-mode code, run with CS base 0xF0000; it touches no memory, so any segment state works.
 */
public final class ResetVector {
    private static final byte[] CODE = {
        (byte) 0xb0, (byte) 0xfe,
        (byte) 0xe6, 0x64,
        (byte) 0xfa,
        (byte) 0xf4,
        (byte) 0xeb, (byte) 0xfc,
    };

    private ResetVector() {
    }

    /** The stub, padded with HLT to the 16 bytes between the reset vector and 1 MiB. */
    public static byte[] bytes() {
        byte[] out = new byte[16];
        java.util.Arrays.fill(out, (byte) 0xf4);
        System.arraycopy(CODE, 0, out, 0, CODE.length);
        return out;
    }
}
