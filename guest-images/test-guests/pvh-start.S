/*
 * Entry of pvh-probe. The PVH boot ABI (Xen docs/misc/pvh.pandoc) enters here, named by the
 * XEN_ELFNOTE_PHYS32_ENTRY note below, in 32-bit protected mode with paging off, flat CS/DS/ES,
 * interrupts off and EBX holding the physical address of struct hvm_start_info. The ABI gives
 * no stack, so we take our own before calling C (cdecl: the argument goes on the stack).
 */
    .code32
    .section .text.start, "ax"
    .globl _start
_start:
    cli
    cld
    movl $stack_top, %esp
    xorl %ebp, %ebp
    pushl %ebx
    call pvh_main
1:  cli
    hlt
    jmp 1b

    .section .bss
    .balign 16
stack_bottom:
    .skip 16384
stack_top:

/*
 * The Xen ELF note announcing the PVH entry (xen/include/public/elfnote.h,
 * XEN_ELFNOTE_PHYS32_ENTRY = 18): namesz 4 ("Xen\0"), descsz 4, type 18, then the name and the
 * 32-bit physical entry address, each padded to 4 bytes (ELF gABI, "Note Section").
 */
    .section .note.Xen, "a"
    .balign 4
    .long 4
    .long 4
    .long 18
    .asciz "Xen"
    .long _start

    .section .note.GNU-stack, "", @progbits
