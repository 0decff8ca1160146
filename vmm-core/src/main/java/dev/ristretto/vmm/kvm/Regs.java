package dev.ristretto.vmm.kvm;

/** {@code struct kvm_regs}: the general-purpose registers, RIP and RFLAGS. */
public record Regs(long rax, long rbx, long rcx, long rdx, long rsi, long rdi, long rsp, long rbp,
                   long r8, long r9, long r10, long r11, long r12, long r13, long r14, long r15,
                   long rip, long rflags) {

    /** RFLAGS bit 1 is reserved and reads as 1 (Intel SDM vol 1 §3.4.3). */
    public static final long RFLAGS_RESERVED = 0x2;

    /** All registers zero except RFLAGS' reserved bit: the base for a boot register set. */
    public static Regs initial() {
        return new Regs(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, RFLAGS_RESERVED);
    }

    public Regs withRip(long v) {
        return new Regs(rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, v, rflags);
    }

    public Regs withRsp(long v) {
        return new Regs(rax, rbx, rcx, rdx, rsi, rdi, v, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    public Regs withRsi(long v) {
        return new Regs(rax, rbx, rcx, rdx, v, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    public Regs withRbx(long v) {
        return new Regs(rax, v, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    public Regs withRax(long v) {
        return new Regs(v, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags);
    }

    public Regs withRflags(long v) {
        return new Regs(rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, v);
    }
}
