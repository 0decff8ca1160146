/*
 * Output and memory helpers shared by the test guests. See README.md for the line format.
 *
 * Serial output: 8250/16550 UART at the PC's COM1 base 0x3f8. We never touch the divisor or
 * line control (the VMM's UART has no real line, so the speed is irrelevant) and never enable
 * interrupts: before each byte we poll the Line Status Register (base + 5) until bit 5, THRE
 * ("transmitter holding register empty"), is set, then write the Transmitter Holding Register
 * (base + 0). Register map: PC16550D datasheet, "Register Addresses" and "Line Status Register".
 */
#include "probe.h"

#define COM1 0x3f8
#define UART_THR 0
#define UART_LSR 5
#define LSR_THRE 0x20

/* i8042 command port and its "pulse output line 0" command, which resets a PC (the CPU reset
 * line hangs off the controller's output port bit 0; Linux's reboot=k does the same). */
#define I8042_COMMAND 0x64
#define I8042_RESET 0xfe

static inline void outb(uint16_t port, uint8_t v) {
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void probe_putc(char c) {
    /* Bounded wait: a UART that never reports THRE must not hang the probe forever. */
    for (uint32_t spins = 0; spins < 1000000; spins++) {
        if (inb(COM1 + UART_LSR) & LSR_THRE) {
            break;
        }
    }
    outb(COM1 + UART_THR, (uint8_t)c);
}

void probe_puts(const char *s) {
    while (*s) {
        probe_putc(*s++);
    }
}

static const char HEX[] = "0123456789abcdef";

void probe_hex8(uint8_t v) {
    probe_putc(HEX[v >> 4]);
    probe_putc(HEX[v & 0xf]);
}

void probe_hex32(uint32_t v) {
    probe_puts("0x");
    for (int shift = 28; shift >= 0; shift -= 4) {
        probe_putc(HEX[(v >> shift) & 0xf]);
    }
}

void probe_hex64(uint64_t v) {
    uint32_t hi = (uint32_t)(v >> 32);
    uint32_t lo = (uint32_t)v;
    probe_puts("0x");
    for (int shift = 28; shift >= 0; shift -= 4) {
        probe_putc(HEX[(hi >> shift) & 0xf]);
    }
    for (int shift = 28; shift >= 0; shift -= 4) {
        probe_putc(HEX[(lo >> shift) & 0xf]);
    }
}

void probe_dec(uint32_t v) {
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        probe_putc(digits[--n]);
    }
}

int probe_addressable(uint64_t paddr, uint64_t len) {
    return paddr < PROBE_ADDRESSABLE_LIMIT && len <= PROBE_ADDRESSABLE_LIMIT - paddr;
}

uint8_t probe_read8(uint64_t paddr) {
    return *(volatile const uint8_t *)(uintptr_t)paddr;
}

uint32_t probe_read32(uint64_t paddr) {
    /* Byte by byte: the boot structures have fields at any alignment (the e820 table's entries
     * are 20 bytes, packed). Little-endian, as x86 stores them. */
    return (uint32_t)probe_read8(paddr) | (uint32_t)probe_read8(paddr + 1) << 8
            | (uint32_t)probe_read8(paddr + 2) << 16 | (uint32_t)probe_read8(paddr + 3) << 24;
}

uint64_t probe_read64(uint64_t paddr) {
    return (uint64_t)probe_read32(paddr) | (uint64_t)probe_read32(paddr + 4) << 32;
}

/* Prints the NUL-terminated string at paddr in double quotes, at most max bytes; bytes outside
 * printable ASCII, the quote and the backslash appear as \xHH so the line stays one line. */
void probe_cstring(uint64_t paddr, uint32_t max) {
    if (paddr == 0) {
        probe_puts("(none)");
        return;
    }
    if (!probe_addressable(paddr, 1)) {
        probe_puts("(beyond 4 GiB)");
        return;
    }
    probe_putc('"');
    for (uint32_t i = 0; i < max && probe_addressable(paddr + i, 1); i++) {
        uint8_t c = probe_read8(paddr + i);
        if (c == 0) {
            probe_putc('"');
            return;
        }
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
            probe_puts("\\x");
            probe_hex8(c);
        } else {
            probe_putc((char)c);
        }
    }
    probe_puts("\"...(unterminated)");
}

/* " head=xx xx ..." with the first count bytes (fewer when size is smaller). */
void probe_head(uint64_t paddr, uint64_t size, uint32_t count) {
    probe_puts(" head=");
    if (paddr == 0) {
        probe_puts("(none)");
        return;
    }
    uint32_t n = size < count ? (uint32_t)size : count;
    if (!probe_addressable(paddr, n)) {
        probe_puts("(beyond 4 GiB)");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0) {
            probe_putc(' ');
        }
        probe_hex8(probe_read8(paddr + i));
    }
}

/* The sum, modulo 2^32, of the range read as little-endian 32-bit words, the last partial word
 * padded with zero bytes. Word-wise because every instruction may run in KVM's emulator here. */
uint32_t probe_sum32(uint64_t paddr, uint64_t size) {
    uint32_t sum = 0;
    uint64_t whole = size & ~3ULL;
    for (uint64_t off = 0; off < whole; off += 4) {
        sum += *(volatile const uint32_t *)(uintptr_t)(paddr + off);
    }
    uint32_t shift = 0;
    uint32_t tail = 0;
    for (uint64_t off = whole; off < size; off++) {
        tail |= (uint32_t)probe_read8(paddr + off) << shift;
        shift += 8;
    }
    return sum + tail;
}

/* " sum32=… head=…" of a blob the VMM handed over (an initrd, a PVH module), or a note that the
 * probe cannot reach it. */
void probe_blob(uint64_t paddr, uint64_t size) {
    if (probe_addressable(paddr, size)) {
        probe_puts(" sum32=");
        probe_hex32(probe_sum32(paddr, size));
        probe_head(paddr, size, PROBE_HEAD_BYTES);
    } else {
        probe_puts(" (beyond 4 GiB)");
    }
}

/* The line the tests check the RSDP with: its address and its first 8 bytes ("RSD PTR "). */
void probe_rsdp_line(uint64_t rsdp) {
    probe_puts("rsdp_paddr=");
    probe_hex64(rsdp);
    probe_head(rsdp, 8, 8);
    probe_putc('\n');
}

/* Set by probe_scan_options: finish without the reset, so the VMM keeps running (its signal tests). */
static int stay_after_finish;

/* Looks for the word "probe.stay" (space-delimited, as Linux splits its command line) in the
 * NUL-terminated string at paddr. */
void probe_scan_options(uint64_t paddr, uint32_t max) {
    static const char word[] = "probe.stay";
    uint32_t matched = 0;
    uint8_t before = ' ';
    for (uint32_t i = 0; paddr != 0 && i <= max && probe_addressable(paddr + i, 1); i++) {
        uint8_t c = i < max ? probe_read8(paddr + i) : 0;
        if (matched == sizeof word - 1 && (c == 0 || c == ' ')) {
            stay_after_finish = 1;
            return;
        }
        if (c == 0) {
            return;
        }
        if (matched < sizeof word - 1 && c == (uint8_t)word[matched] && (matched > 0 || before == ' ')) {
            matched++;
        } else {
            matched = 0;
        }
        before = c;
    }
}

void probe_finish(const char *done_line) {
    probe_puts(done_line);
    probe_putc('\n');
    if (!stay_after_finish) {
        outb(I8042_COMMAND, I8042_RESET);
    }
    /* Asked to stay, or no i8042 (or it ignored us): stop here with interrupts off. A hlt with IF clear is only
     * left by NMI or reset, hence the loop. */
    for (;;) {
        __asm__ volatile("cli; hlt");
    }
}
