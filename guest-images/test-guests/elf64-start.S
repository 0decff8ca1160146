/*
 * Entry of elf64-probe: the ELF entry point, reached in 64-bit mode as the Linux 64-bit boot
 * protocol enters a kernel (Documentation/arch/x86/boot.rst, "64-bit BOOT PROTOCOL"): paging on
 * with the loader's identity map, interrupts off, RSI holding the physical address of struct
 * boot_params. We switch to our own stack and pass RSI on as the first C argument (System V
 * x86-64 ABI: RDI).
 */
    .code64
    .section .text.start, "ax"
    .globl _start
_start:
    cli
    cld
    movq %rsi, %rdi
    leaq stack_top(%rip), %rsp
    xorl %ebp, %ebp
    call elf64_main
1:  cli
    hlt
    jmp 1b

    .section .bss
    .balign 16
stack_bottom:
    .skip 16384
stack_top:

    .section .note.GNU-stack, "", @progbits
