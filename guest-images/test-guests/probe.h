/*
 * Shared helpers of the freestanding test guests: COM1 output by polling, fixed-width hex,
 * memory dumps and the common ending. Compiled into both the 32-bit pvh-probe and the 64-bit
 * elf64-probe, so it uses only 32-bit arithmetic on its own (no 64-bit division, which would need
 * libgcc in the 32-bit build) and no floating point.
 */
#ifndef PROBE_H
#define PROBE_H

#include <stdint.h>

/* Addresses the probes may dereference: below 4 GiB, the part that is identity-mapped in the
 * 64-bit probe (Ristretto's boot page tables) and addressable at all in the 32-bit one. */
#define PROBE_ADDRESSABLE_LIMIT 0x100000000ULL

void probe_putc(char c);
void probe_puts(const char *s);
void probe_hex32(uint32_t v);
void probe_hex64(uint64_t v);
void probe_dec(uint32_t v);
void probe_hex8(uint8_t v);
int probe_addressable(uint64_t paddr, uint64_t len);
void probe_cstring(uint64_t paddr, uint32_t max);
void probe_head(uint64_t paddr, uint64_t size, uint32_t count);
uint32_t probe_sum32(uint64_t paddr, uint64_t size);
uint32_t probe_read32(uint64_t paddr);
uint64_t probe_read64(uint64_t paddr);
uint8_t probe_read8(uint64_t paddr);
/* How many leading bytes probe_blob shows. */
#define PROBE_HEAD_BYTES 16
void probe_blob(uint64_t paddr, uint64_t size);
void probe_rsdp_line(uint64_t rsdp);
void probe_scan_options(uint64_t paddr, uint32_t max);
/* Prints done_line, then resets through the i8042 unless the command line said "probe.stay". */
void probe_finish(const char *done_line) __attribute__((noreturn));

#endif
