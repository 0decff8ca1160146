/*
 * Entries of virtio-probe. One image, two ways in, both ending in virtio_main(kind, info) in
 * 64-bit mode on our own stack:
 *
 *   _start64  the ELF entry point (e_entry), for the Linux 64-bit boot protocol
 *             (Documentation/arch/x86/boot.rst, "64-bit BOOT PROTOCOL"): long mode, the loader's
 *             identity map, interrupts off, RSI = struct boot_params. Ristretto with
 *             --boot-protocol linux, and any VMM that enters an ELF vmlinux the way Firecracker does.
 *   _start32  the PVH entry named by the XEN_ELFNOTE_PHYS32_ENTRY note (Xen docs/misc/pvh.pandoc):
 *             32-bit protected mode, paging off, EBX = struct hvm_start_info. QEMU's -kernel
 *             (it boots an ELF only through PVH or multiboot, and multiboot only for ELF32) and
 *             Ristretto's default for an ELF with the note. It enters long mode itself (Intel
 *             SDM Vol. 3A §10.8.5 "Initializing IA-32e Mode"): PAE on, CR3 = a 1 GiB identity map
 *             of 2 MiB pages, EFER.LME on, paging on, then a far jump to a 64-bit code segment.
 *             No iretq, no interrupts: every step runs in KVM's instruction emulator too.
 *
 * The C code then builds its own page tables (virtio-probe.c), so neither the loader's map nor
 * this temporary one matters after that.
 */
    .set BOOT_LINUX, 1
    .set BOOT_PVH, 2
    .set CR0_PE, 0x00000001
    .set CR0_PG, 0x80000000
    .set CR4_PAE, 0x00000020
    .set MSR_EFER, 0xc0000080
    .set EFER_LME, 0x00000100
    .set PTE_PRESENT_RW, 0x003
    .set PTE_LARGE_PRESENT_RW, 0x083    /* PS: a 2 MiB page (SDM Vol. 3A Table 4-18) */
    .set KERNEL_CS, 0x08
    .set KERNEL_DS, 0x10

    .code64
    .section .text.start, "ax"
    .globl _start64
_start64:
    cli
    cld
    leaq stack_top(%rip), %rsp
    xorl %ebp, %ebp
                                    /* RSI = boot_params is already the second C argument */
    movl $BOOT_LINUX, %edi
    call virtio_main
1:  cli
    hlt
    jmp 1b

    .code32
    .globl _start32
_start32:
    cli
    cld
    movl %ebx, %esi                 /* keep hvm_start_info across the switch */

    /* Zero the three table pages (4096 dwords each), then link PML4[0] -> PDPT[0] -> PD. */
    movl $boot_pml4, %edi
    xorl %eax, %eax
    movl $(3 * 1024), %ecx
    rep stosl
    movl $(boot_pdpt + PTE_PRESENT_RW), boot_pml4
    movl $(boot_pd + PTE_PRESENT_RW), boot_pdpt
    /* PD[i] = i * 2 MiB, for i = 0..511: the first GiB, which holds this image, its stack, the
     * start_info and the command line (the PVH loader keeps them below 4 GiB, QEMU and Ristretto
     * below 1 MiB or just above the image). */
    movl $boot_pd, %edi
    movl $PTE_LARGE_PRESENT_RW, %eax
    movl $512, %ecx
2:  movl %eax, (%edi)
    movl $0, 4(%edi)
    addl $0x200000, %eax
    addl $8, %edi
    decl %ecx
    jnz 2b

    lgdt boot_gdt_descriptor
    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl %cr0, %eax
    orl $(CR0_PG | CR0_PE), %eax
    movl %eax, %cr0                 /* now in compatibility mode (EFER.LMA set by the CPU) */
    ljmp $KERNEL_CS, $long_mode_pvh

    .code64
long_mode_pvh:
    movl $KERNEL_DS, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    leaq stack_top(%rip), %rsp
    xorl %ebp, %ebp
    movl %esi, %esi                 /* start_info, zero-extended: second C argument */
    movl $BOOT_PVH, %edi
    call virtio_main
3:  cli
    hlt
    jmp 3b

    .section .rodata
    .balign 8
/* Null, 64-bit code (L=1, D=0, P, DPL 0, execute/read) and flat data (SDM Vol. 3A §3.4.5). */
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
boot_gdt_end:
boot_gdt_descriptor:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .bss
    .balign 4096
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4096
    .balign 16
stack_bottom:
    .skip 16384
stack_top:

/*
 * The Xen ELF note announcing the PVH entry (xen/include/public/elfnote.h,
 * XEN_ELFNOTE_PHYS32_ENTRY = 18): namesz 4 ("Xen\0"), descsz 8, type 18, then the name and the
 * physical entry address. The descriptor is 8 bytes, as Linux's 64-bit vmlinux emits it
 * (_ASM_PTR) and as QEMU reads it from an ELF64 (a size_t); its upper half is zero.
 */
    .section .note.Xen, "a"
    .balign 4
    .long 4
    .long 8
    .long 18
    .asciz "Xen"
    .quad _start32

    .section .note.GNU-stack, "", @progbits
