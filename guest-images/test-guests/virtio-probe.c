/*
 * virtio-probe: a freestanding virtio-over-PCI driver for tests. Entered in 64-bit mode (see
 * virtio-start.S), it takes its options from the kernel command line, builds its own identity
 * map, enumerates PCI bus 0 through configuration mechanism #1, drives every modern virtio
 * block, network, console and entropy device it finds by polling, and ends with
 * "VIRTIO-PROBE-DONE" and an i8042 reset. Output format: README.md.
 */
#include "virtio-probe.h"

#define BOOT_LINUX 1
#define BOOT_PVH 2

/* struct boot_params (Linux zero-page.rst) and struct hvm_start_info (Xen start_info.h). */
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_CMD_LINE_PTR 0x228
#define SI_MAGIC 0x00
#define SI_CMDLINE_PADDR 0x18
#define SI_MAGIC_VALUE 0x336ec578
#define CMDLINE_MAX 4096

/* Where the probe places a BAR the VMM left at 0, unless vprobe.bar_window says otherwise:
 * inside both QEMU q35's and Ristretto's 32-bit MMIO hole (Ristretto: 0xc000_0000 to 4 GiB;
 * its IOAPIC and LAPIC sit at 0xfec0_0000 and up, far above what a few devices use). */
#define DEFAULT_BAR_WINDOW 0xd0000000ULL
#define DEFAULT_TIMEOUT 10
#define DEFAULT_NET_RX_TIMEOUT 10
/* 17 to 30 minutes at the 10-18 us a poll takes in KVM's instruction emulator here, seconds
 * natively: only a backstop for a machine whose RTC does not tick. */
#define DEFAULT_POLLS 100000000
#define BLK_READ_MAX 256

struct vp_options vp_opt;

/* ---- freestanding library: GCC may emit calls to these (GCC manual, "Standards") ---- */

void *memset(void *d, int c, unsigned long n) {
    volatile uint8_t *p = d;
    for (unsigned long i = 0; i < n; i++) {
        p[i] = (uint8_t)c;
    }
    return d;
}

void *memcpy(void *d, const void *s, unsigned long n) {
    volatile uint8_t *p = d;
    const volatile uint8_t *q = s;
    for (unsigned long i = 0; i < n; i++) {
        p[i] = q[i];
    }
    return d;
}

/* ---- output ---- */

static const char HEX[] = "0123456789abcdef";

void vp_hex16(uint16_t v) {
    probe_puts("0x");
    probe_hex8((uint8_t)(v >> 8));
    probe_hex8((uint8_t)v);
}

void vp_hex24(uint32_t v) {
    probe_puts("0x");
    probe_hex8((uint8_t)(v >> 16));
    probe_hex8((uint8_t)(v >> 8));
    probe_hex8((uint8_t)v);
}

void vp_bdf(uint8_t bus, uint8_t dev, uint8_t fn) {
    probe_hex8(bus);
    probe_putc(':');
    probe_hex8(dev);
    probe_putc('.');
    probe_putc(HEX[fn & 7]);
}

void vp_mac(const volatile uint8_t *mac) {
    for (int i = 0; i < 6; i++) {
        if (i > 0) {
            probe_putc(':');
        }
        probe_hex8(mac[i]);
    }
}

void vp_quoted(const volatile uint8_t *p, uint32_t max) {
    probe_putc('"');
    for (uint32_t i = 0; i < max && p[i] != 0; i++) {
        uint8_t c = p[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
            probe_puts("\\x");
            probe_hex8(c);
        } else {
            probe_putc((char)c);
        }
    }
    probe_putc('"');
}

void vp_hexbytes(const volatile uint8_t *p, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        probe_hex8(p[i]);
    }
}

void vp_dec64(uint64_t v) {
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        probe_putc(digits[--n]);
    }
}

/* ---- command line ---- */

static uint64_t cmdline_paddr(uint32_t kind, uint64_t info) {
    if (info == 0 || !probe_addressable(info, 0x1000)) {
        return 0;
    }
    if (kind == BOOT_LINUX) {
        return probe_read32(info + BP_CMD_LINE_PTR) | (uint64_t)probe_read32(info + BP_EXT_CMD_LINE_PTR) << 32;
    }
    if (probe_read32(info + SI_MAGIC) != SI_MAGIC_VALUE) {
        return 0;
    }
    return probe_read64(info + SI_CMDLINE_PADDR);
}

/* The command line copied out of the loader's memory (it may be anywhere below 4 GiB) and
 * NUL-terminated, so parsing never reads past it. */
static char cmdline[CMDLINE_MAX + 1];

static void copy_cmdline(uint64_t paddr) {
    uint32_t n = 0;
    if (paddr != 0 && probe_addressable(paddr, 1)) {
        while (n < CMDLINE_MAX && probe_addressable(paddr + n, 1) && probe_read8(paddr + n) != 0) {
            cmdline[n] = (char)probe_read8(paddr + n);
            n++;
        }
    }
    cmdline[n] = 0;
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n';
}

/* The value of "key=" as a word of the command line, or 0; *len gets its length. */
static const char *option(const char *key, uint32_t *len) {
    const char *p = cmdline;
    while (*p) {
        while (is_space(*p)) {
            p++;
        }
        const char *word = p;
        while (*p && !is_space(*p)) {
            p++;
        }
        const char *k = key;
        const char *w = word;
        while (*k && w < p && *w == *k) {
            w++;
            k++;
        }
        if (*k == 0 && w < p && *w == '=') {
            *len = (uint32_t)(p - w - 1);
            return w + 1;
        }
    }
    return 0;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parses [s, s+len) as decimal or 0x-prefixed hex; returns 0 and sets *v, or -1. */
static int parse_u64(const char *s, uint32_t len, uint64_t *v) {
    uint64_t r = 0;
    uint32_t i = 0;
    int base = 10;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    if (i == len) {
        return -1;
    }
    for (; i < len; i++) {
        int d = hex_digit(s[i]);
        if (d < 0 || d >= base) {
            return -1;
        }
        uint64_t next = r * (uint64_t)base + (uint64_t)d;
        if (next / (uint64_t)base != r) {
            return -1; /* overflow */
        }
        r = next;
    }
    *v = r;
    return 0;
}

static void bad_option(const char *key, const char *why) {
    probe_puts("error: option ");
    probe_puts(key);
    probe_puts(": ");
    probe_puts(why);
    probe_puts("; the default is used\n");
}

static void number_option(const char *key, uint64_t max, uint64_t *out) {
    uint32_t len;
    const char *v = option(key, &len);
    uint64_t n;
    if (v == 0) {
        return;
    }
    if (parse_u64(v, len, &n) != 0 || n > max) {
        bad_option(key, "not a number in range");
        return;
    }
    *out = n;
}

static int parse_mac(const char *s, uint32_t len, uint8_t mac[6]) {
    if (len != 17) {
        return -1;
    }
    for (int i = 0; i < 6; i++) {
        int hi = hex_digit(s[3 * i]);
        int lo = hex_digit(s[3 * i + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':')) {
            return -1;
        }
        mac[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* ---- benchmark-mode options (README.md, "Benchmark mode") ---- */

#define BENCH_SEQ_MIB_DEFAULT 64
#define BENCH_RAND_OPS_DEFAULT 4096
#define BENCH_FRAMES_DEFAULT 20000
/* Ethernet frame lengths without the FCS: 60 is the 64-byte minimum frame on the wire, 1514 a
 * full 1500-byte payload (IEEE 802.3 §3.2.8; the device or the host adds the FCS). */
#define BENCH_FRAME_MIN 60
#define BENCH_FRAME_MAX 1514

static const struct { const char *name; uint32_t bit; } BENCH_NAMES[] = {
    {"blk-seq-read", BENCH_BLK_SEQ_READ},
    {"blk-seq-write", BENCH_BLK_SEQ_WRITE},
    {"blk-rand-read", BENCH_BLK_RAND_READ},
    {"blk-rand-write", BENCH_BLK_RAND_WRITE},
    {"net-tx", BENCH_NET_TX},
};

static int same_word(const char *s, uint32_t len, const char *name) {
    uint32_t i = 0;
    while (i < len && name[i] != 0 && s[i] == name[i]) {
        i++;
    }
    return i == len && name[i] == 0;
}

/* vprobe.bench=a,b,...: each item one of BENCH_NAMES. Any unknown item rejects the option
 * (no benchmark runs), so a typo cannot silently drop a figure. */
static void parse_bench_options(void) {
    uint32_t len;
    const char *v = option("vprobe.bench", &len);
    if (v == 0) {
        return;
    }
    uint32_t bits = 0;
    uint32_t start = 0;
    while (start <= len) {
        uint32_t end = start;
        while (end < len && v[end] != ',') {
            end++;
        }
        uint32_t bit = 0;
        for (uint32_t i = 0; i < sizeof BENCH_NAMES / sizeof BENCH_NAMES[0]; i++) {
            if (same_word(v + start, end - start, BENCH_NAMES[i].name)) {
                bit = BENCH_NAMES[i].bit;
            }
        }
        if (bit == 0) {
            bad_option("vprobe.bench", "an item is not blk-seq-read, blk-seq-write, blk-rand-read, blk-rand-write or net-tx");
            return;
        }
        bits |= bit;
        start = end + 1;
    }
    vp_opt.bench = bits;

    uint64_t n = BENCH_SEQ_MIB_DEFAULT;
    number_option("vprobe.bench_seq_mib", 1u << 20, &n);
    vp_opt.bench_seq_mib = n == 0 ? BENCH_SEQ_MIB_DEFAULT : (uint32_t)n;
    n = BENCH_RAND_OPS_DEFAULT;
    number_option("vprobe.bench_rand_ops", 0xffffffffULL, &n);
    vp_opt.bench_rand_ops = n == 0 ? BENCH_RAND_OPS_DEFAULT : (uint32_t)n;
    n = BENCH_FRAMES_DEFAULT;
    number_option("vprobe.bench_frames", 0xffffffffULL, &n);
    vp_opt.bench_frames = n == 0 ? BENCH_FRAMES_DEFAULT : (uint32_t)n;
    n = 1;
    number_option("vprobe.bench_seed", 0xffffffffffffffffULL, &n);
    vp_opt.bench_seed = n;

    /* vprobe.bench_frame_lens=A:B:... (colon-separated: the list of tests uses commas). */
    vp_opt.bench_frame_lens[0] = BENCH_FRAME_MIN;
    vp_opt.bench_frame_lens[1] = BENCH_FRAME_MAX;
    vp_opt.bench_nframe_lens = 2;
    v = option("vprobe.bench_frame_lens", &len);
    if (v != 0) {
        uint32_t lens[BENCH_FRAME_LENS_MAX];
        uint32_t count = 0;
        int ok = 1;
        start = 0;
        while (ok && start <= len) {
            uint32_t end = start;
            while (end < len && v[end] != ':') {
                end++;
            }
            uint64_t l;
            if (count == BENCH_FRAME_LENS_MAX || parse_u64(v + start, end - start, &l) != 0
                    || l < BENCH_FRAME_MIN || l > BENCH_FRAME_MAX) {
                ok = 0;
            } else {
                lens[count++] = (uint32_t)l;
            }
            start = end + 1;
        }
        if (!ok) {
            bad_option("vprobe.bench_frame_lens", "not 1 to 4 lengths 60-1514 separated by ':'");
        } else {
            memcpy(vp_opt.bench_frame_lens, lens, sizeof lens);
            vp_opt.bench_nframe_lens = count;
        }
    }
}

/* Printed only in benchmark mode, after the usual options line (which stays as it was). */
static void print_bench_options(void) {
    if (vp_opt.bench == 0) {
        return;
    }
    probe_puts("bench options tests=");
    int first = 1;
    for (uint32_t i = 0; i < sizeof BENCH_NAMES / sizeof BENCH_NAMES[0]; i++) {
        if (vp_opt.bench & BENCH_NAMES[i].bit) {
            if (!first) {
                probe_putc(',');
            }
            probe_puts(BENCH_NAMES[i].name);
            first = 0;
        }
    }
    probe_puts(" seq_mib=");
    probe_dec(vp_opt.bench_seq_mib);
    probe_puts(" rand_ops=");
    probe_dec(vp_opt.bench_rand_ops);
    probe_puts(" frames=");
    probe_dec(vp_opt.bench_frames);
    probe_puts(" frame_lens=");
    for (uint32_t i = 0; i < vp_opt.bench_nframe_lens; i++) {
        if (i > 0) {
            probe_putc(':');
        }
        probe_dec(vp_opt.bench_frame_lens[i]);
    }
    probe_puts(" seed=");
    vp_dec64(vp_opt.bench_seed);
    probe_putc('\n');
}

static void parse_options(void) {
    uint64_t n;
    uint32_t len;
    const char *v;

    memset(&vp_opt, 0, sizeof vp_opt);
    n = 1;
    number_option("vprobe.blk_read", BLK_READ_MAX, &n);
    vp_opt.blk_read = (uint32_t)n;

    v = option("vprobe.blk_write", &len);
    if (v != 0) {
        uint32_t colon = 0;
        while (colon < len && v[colon] != ':') {
            colon++;
        }
        uint64_t sector;
        uint64_t byte;
        if (colon == len || parse_u64(v, colon, &sector) != 0 || parse_u64(v + colon + 1, len - colon - 1, &byte) != 0
                || byte > 0xff) {
            bad_option("vprobe.blk_write", "not <sector>:<byte>");
        } else {
            vp_opt.blk_write = 1;
            vp_opt.blk_write_sector = sector;
            vp_opt.blk_write_byte = (uint8_t)byte;
        }
    }

    static const char default_payload[] = "RISTRETTO-TX";
    v = option("vprobe.net_tx", &len);
    if (v == 0) {
        v = default_payload;
        len = sizeof default_payload - 1;
    } else if (len > NET_TX_MAX) {
        bad_option("vprobe.net_tx", "longer than 1500 bytes");
        v = default_payload;
        len = sizeof default_payload - 1;
    }
    memcpy(vp_opt.net_tx, v, len);
    vp_opt.net_tx_len = len;
    /* Binary payloads (an ARP request, say) cannot be a command-line word; hex can. */
    v = option("vprobe.net_tx_hex", &len);
    if (v != 0) {
        if (len == 0 || len % 2 != 0 || len / 2 > NET_TX_MAX) {
            bad_option("vprobe.net_tx_hex", "not an even number of hex digits, 2 to 3000");
        } else {
            uint32_t digits = 0;
            while (digits < len && hex_digit(v[digits]) >= 0) {
                digits++;
            }
            if (digits < len) {
                bad_option("vprobe.net_tx_hex", "not hex digits");
            } else {
                for (uint32_t i = 0; i < len / 2; i++) {
                    vp_opt.net_tx[i] = (uint8_t)(hex_digit(v[2 * i]) << 4 | hex_digit(v[2 * i + 1]));
                }
                vp_opt.net_tx_len = len / 2;
            }
        }
    }

    memset(vp_opt.net_dst, 0xff, 6); /* broadcast */
    v = option("vprobe.net_dst", &len);
    if (v != 0 && parse_mac(v, len, vp_opt.net_dst) != 0) {
        memset(vp_opt.net_dst, 0xff, 6);
        bad_option("vprobe.net_dst", "not a MAC address xx:xx:xx:xx:xx:xx");
    }

    /* 0x88b5: IEEE 802 "Local Experimental EtherType 1", free for tests on a private link. */
    n = 0x88b5;
    number_option("vprobe.net_type", 0xffff, &n);
    vp_opt.net_type = (uint16_t)n;
    n = vp_opt.net_type; /* by default the probe waits for a frame of the type it sends */
    number_option("vprobe.net_rx_type", 0xffff, &n);
    vp_opt.net_rx_type = (uint16_t)n;
    n = DEFAULT_NET_RX_TIMEOUT;
    number_option("vprobe.net_rx_timeout", 3600, &n);
    vp_opt.net_rx_timeout = (uint32_t)n;
    n = DEFAULT_TIMEOUT;
    number_option("vprobe.timeout", 3600, &n);
    if (n == 0) {
        bad_option("vprobe.timeout", "must be at least 1");
        n = DEFAULT_TIMEOUT;
    }
    vp_opt.timeout = (uint32_t)n;
    n = DEFAULT_POLLS;
    number_option("vprobe.polls", 0xffffffffULL, &n);
    if (n == 0) {
        bad_option("vprobe.polls", "must be at least 1");
        n = DEFAULT_POLLS;
    }
    vp_opt.polls = (uint32_t)n;
    n = DEFAULT_BAR_WINDOW;
    number_option("vprobe.bar_window", 0xffffffffffffULL, &n);
    if ((n & 0xfff) != 0) {
        bad_option("vprobe.bar_window", "not 4 KiB aligned");
        n = DEFAULT_BAR_WINDOW;
    }
    vp_opt.bar_window = n;
    parse_bench_options();
}

static void print_options(void) {
    probe_puts("options blk_read=");
    probe_dec(vp_opt.blk_read);
    probe_puts(" blk_write=");
    if (vp_opt.blk_write) {
        vp_dec64(vp_opt.blk_write_sector);
        probe_puts(":0x");
        probe_hex8(vp_opt.blk_write_byte);
    } else {
        probe_puts("none");
    }
    probe_puts(" net_dst=");
    vp_mac(vp_opt.net_dst);
    probe_puts(" net_type=");
    vp_hex16(vp_opt.net_type);
    probe_puts(" net_rx_type=");
    vp_hex16(vp_opt.net_rx_type);
    probe_puts(" net_rx_timeout=");
    probe_dec(vp_opt.net_rx_timeout);
    probe_puts(" timeout=");
    probe_dec(vp_opt.timeout);
    probe_puts(" polls=");
    probe_dec(vp_opt.polls);
    probe_puts(" bar_window=");
    probe_hex64(vp_opt.bar_window);
    probe_puts(" net_tx=");
    /* The payload may hold any byte but NUL and blanks (it is one word of the command line). */
    vp_quoted(vp_opt.net_tx, vp_opt.net_tx_len);
    probe_putc('\n');
}

/* ---- bounded waits on the CMOS RTC (MC146818A: index port 0x70, data port 0x71, register 0 =
 * seconds) ---- */

#define RTC_INDEX 0x70
#define RTC_DATA 0x71
#define RTC_SECONDS 0x00
/* Polls between two looks at the clock: two port accesses (VM exits) per 1024 cheap polls. */
#define RTC_SAMPLE_MASK 1023

uint8_t vp_rtc_seconds(void) {
    vp_outb(RTC_INDEX, RTC_SECONDS);
    return vp_inb(RTC_DATA);
}

void vp_wait_start(struct vp_wait *w, uint32_t seconds) {
    w->polls = 0;
    w->ticks = 0;
    /* The first change may come at once (we start mid-second), hence one more: the wait lasts
     * at least `seconds` and less than `seconds` + 1. A read during an update (UIP) can only
     * add a change, never hide the next one. */
    w->max_ticks = seconds + 1;
    w->last = vp_rtc_seconds();
}

int vp_wait_over(struct vp_wait *w) {
    if (++w->polls >= vp_opt.polls) {
        return 1;
    }
    if ((w->polls & RTC_SAMPLE_MASK) == 0) {
        uint8_t now = vp_rtc_seconds();
        if (now != w->last) {
            w->last = now;
            if (++w->ticks >= w->max_ticks) {
                return 1;
            }
        }
    }
    return 0;
}

/* ---- paging: our own identity map (SDM Vol. 3A §4.5, 4-level paging) ---- */

#define PTE_P 0x001ULL
#define PTE_RW 0x002ULL
#define PTE_PWT 0x008ULL
#define PTE_PCD 0x010ULL
#define PTE_PS 0x080ULL
#define PTE_ADDR 0x000ffffffffff000ULL
#define PAGE_2M 0x200000ULL
#define IDENTITY_LIMIT (1ULL << 47)  /* the lower half of the 48-bit canonical space */
#define PDPT_POOL 4
#define PD_POOL 16

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt_pool[PDPT_POOL][512] __attribute__((aligned(4096)));
static uint64_t pd_pool[PD_POOL][512] __attribute__((aligned(4096)));
static uint32_t pdpts_used;
static uint32_t pds_used;

static uint64_t *next_table(uint64_t *entry, uint64_t (*pool)[512], uint32_t *used, uint32_t limit) {
    if (*entry & PTE_P) {
        return (uint64_t *)(uintptr_t)(*entry & PTE_ADDR);
    }
    if (*used == limit) {
        return 0;
    }
    uint64_t *t = pool[(*used)++];
    memset(t, 0, 4096);
    *entry = (uint64_t)(uintptr_t)t | PTE_P | PTE_RW;
    return t;
}

/* Maps the 2 MiB page at `addr` (aligned) onto itself with `flags`. */
static int map_2m(uint64_t addr, uint64_t flags) {
    if (addr >= IDENTITY_LIMIT) {
        return -1;
    }
    uint64_t *pdpt = next_table(&pml4[(addr >> 39) & 511], pdpt_pool, &pdpts_used, PDPT_POOL);
    if (pdpt == 0) {
        return -1;
    }
    uint64_t *pd = next_table(&pdpt[(addr >> 30) & 511], pd_pool, &pds_used, PD_POOL);
    if (pd == 0) {
        return -1;
    }
    pd[(addr >> 21) & 511] = addr | PTE_P | PTE_RW | PTE_PS | flags;
    return 0;
}

static void load_cr3(uint64_t v) {
    __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

/* The first 4 GiB, write-back: this image, the loader's data, the PCI hole (BARs in it are
 * made uncached one by one by vp_map_mmio). */
static void paging_init(void) {
    memset(pml4, 0, sizeof pml4);
    pdpts_used = 0;
    pds_used = 0;
    for (uint64_t a = 0; a < (4ULL << 30); a += PAGE_2M) {
        map_2m(a, 0);
    }
    load_cr3((uint64_t)(uintptr_t)pml4);
}

int vp_map_mmio(uint64_t base, uint64_t size) {
    if (size == 0 || base + size < base || base + size > IDENTITY_LIMIT) {
        return -1;
    }
    for (uint64_t a = base & ~(PAGE_2M - 1); a < base + size; a += PAGE_2M) {
        if (map_2m(a, PTE_PCD | PTE_PWT) != 0) {
            return -1;
        }
    }
    /* Reloading CR3 drops every non-global translation (SDM Vol. 3A §4.10.4.1). */
    load_cr3((uint64_t)(uintptr_t)pml4);
    return 0;
}

/* ---- PCI configuration mechanism #1 (PCI Local Bus 3.0 §3.2.2.3.2) ---- */

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc

static void pci_select(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg) {
    /* Enable bit 31, bus 23:16, device 15:11, function 10:8, dword register 7:2. */
    vp_outl(PCI_CONFIG_ADDRESS, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)(dev & 31) << 11
            | (uint32_t)(fn & 7) << 8 | (reg & 0xfc));
}

uint32_t pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg) {
    pci_select(bus, dev, fn, reg);
    return vp_inl(PCI_CONFIG_DATA);
}

uint16_t pci_read16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg) {
    return (uint16_t)(pci_read32(bus, dev, fn, reg) >> (8 * (reg & 2)));
}

uint8_t pci_read8(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg) {
    return (uint8_t)(pci_read32(bus, dev, fn, reg) >> (8 * (reg & 3)));
}

void pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg, uint32_t v) {
    pci_select(bus, dev, fn, reg);
    vp_outl(PCI_CONFIG_DATA, v);
}

/* A word write through the matching byte lanes of CONFIG_DATA, so the neighbouring register
 * (Status next to Command, whose bits are write-one-to-clear) is not written. */
void pci_write16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg, uint16_t v) {
    pci_select(bus, dev, fn, reg);
    vp_outw((uint16_t)(PCI_CONFIG_DATA + (reg & 2)), v);
}

#define PCI_VENDOR 0x00
#define PCI_DEVICE 0x02
#define PCI_REVISION_CLASS 0x08
#define PCI_HEADER_TYPE 0x0e
#define PCI_SUBSYSTEM 0x2c

/* ---- main ---- */

static uint32_t devices_found;
static uint32_t devices_ok;

static void drive(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t device_id, uint16_t type) {
    static struct vdev d;
    memset(&d, 0, sizeof d);
    int nqueues;
    uint64_t wanted;
    switch (type) {
    case VIRTIO_TYPE_BLOCK:
        /* RO: tells us a write would fail; FLUSH: needed to send VIRTIO_BLK_T_FLUSH (§5.2.6.2).
         * In benchmark mode also SIZE_MAX (1) and SEG_MAX (2): they bound the segments of a
         * 1 MiB request (§5.2.4). */
        wanted = 1ULL << 5 | 1ULL << 9;
        if (vp_opt.bench & BENCH_BLK) {
            wanted |= 1ULL << 1 | 1ULL << 2;
        }
        nqueues = 1;
        break;
    case VIRTIO_TYPE_NET:
        /* MAC: the mac field is only valid with it (§5.1.4). */
        wanted = 1ULL << 5;
        nqueues = 2;
        break;
    case VIRTIO_TYPE_CONSOLE:
        wanted = 0;
        nqueues = 2;
        break;
    case VIRTIO_TYPE_ENTROPY:
        wanted = 0;
        nqueues = 1;
        break;
    default:
        probe_puts("virtio ");
        vp_bdf(bus, dev, fn);
        probe_puts(" type=");
        probe_dec(type);
        probe_puts(" skipped: not a device this probe drives\n");
        return;
    }
    devices_found++;
    /* Benchmark mode takes over the block and network devices its tests need; with larger
     * queues, so that a request or a burst of frames is not limited by the probe's usual 16. */
    int bench = (type == VIRTIO_TYPE_BLOCK && (vp_opt.bench & BENCH_BLK))
            || (type == VIRTIO_TYPE_NET && (vp_opt.bench & BENCH_NET_TX));
    vq_size_cap = bench ? VQ_BENCH_MAX_SIZE : VQ_MAX_SIZE;
    int r = virtio_setup(&d, bus, dev, fn, device_id, type, wanted, nqueues);
    if (r == 0) {
        switch (type) {
        case VIRTIO_TYPE_BLOCK:
            r = bench ? virtio_blk_bench(&d) : virtio_blk(&d);
            break;
        case VIRTIO_TYPE_NET:
            r = bench ? virtio_net_bench(&d) : virtio_net(&d);
            break;
        case VIRTIO_TYPE_CONSOLE:
            r = virtio_console(&d);
            break;
        default:
            r = virtio_rng(&d);
            break;
        }
    }
    /* §2.1.2: the device may have given up on us without any request failing. */
    if (r == 0 && (virtio_status(&d) & VS_DEVICE_NEEDS_RESET)) {
        virtio_error(&d, "the device reports DEVICE_NEEDS_RESET");
        r = -1;
    }
    if (r != 0 && d.common != 0 && (virtio_status(&d) & VS_DRIVER_OK)) {
        /* A failure after DRIVER_OK: stop the device as set-up failures already do. */
        virtio_give_up(&d, 0);
    }
    /* Every device driven ends with this line, whatever happened before. */
    virtio_line(&d);
    probe_puts(r == 0 ? "end ok status=" : "end failed status=");
    if (d.common != 0) {
        probe_puts("0x");
        probe_hex8(virtio_status(&d));
    } else {
        probe_puts("none"); /* no common configuration found: nothing to read */
    }
    probe_putc('\n');
    if (r == 0) {
        devices_ok++;
    }
}

static void scan_function(uint8_t bus, uint8_t dev, uint8_t fn) {
    uint16_t vendor = pci_read16(bus, dev, fn, PCI_VENDOR);
    uint16_t device = pci_read16(bus, dev, fn, PCI_DEVICE);
    uint32_t rc = pci_read32(bus, dev, fn, PCI_REVISION_CLASS);
    probe_puts("pci ");
    vp_bdf(bus, dev, fn);
    probe_puts(" vendor=");
    vp_hex16(vendor);
    probe_puts(" device=");
    vp_hex16(device);
    probe_puts(" class=");
    vp_hex24(rc >> 8);
    probe_puts(" revision=");
    probe_puts("0x");
    probe_hex8((uint8_t)rc);
    probe_puts(" header=0x");
    probe_hex8(pci_read8(bus, dev, fn, PCI_HEADER_TYPE));
    probe_putc('\n');
}

void virtio_main(uint32_t kind, uint64_t info) __attribute__((noreturn));

void virtio_main(uint32_t kind, uint64_t info) {
    probe_puts(kind == BOOT_LINUX ? "\nVIRTIO-PROBE entry=linux boot_params=" : "\nVIRTIO-PROBE entry=pvh start_info=");
    probe_hex64(info);
    probe_putc('\n');
    /* Our own map first: the PVH stub's covers only the first GiB, the boot information may
     * lie anywhere below 4 GiB. */
    paging_init();
    copy_cmdline(cmdline_paddr(kind, info));
    probe_puts("cmdline=");
    vp_quoted((const uint8_t *)cmdline, CMDLINE_MAX);
    probe_putc('\n');
    parse_options();
    print_options();
    print_bench_options();
    if (vp_opt.bench != 0) {
        vp_bench_calibrate();
    }

    /* Bus 0 only: our VMM has no bridges, and the probe must stay simple. A function exists when
     * its Vendor ID is not 0xffff (§6.2.1); functions 1-7 only when function 0's header type has
     * the multi-function bit 7 (§6.2.1, Header Type). */
    uint32_t functions = 0;
    struct { uint8_t dev, fn; uint16_t id; } virtio[32 * 8];
    uint32_t nvirtio = 0;
    for (uint8_t dev = 0; dev < 32; dev++) {
        if (pci_read16(0, dev, 0, PCI_VENDOR) == 0xffff) {
            continue;
        }
        uint8_t fns = (pci_read8(0, dev, 0, PCI_HEADER_TYPE) & 0x80) ? 8 : 1;
        for (uint8_t fn = 0; fn < fns; fn++) {
            uint16_t vendor = pci_read16(0, dev, fn, PCI_VENDOR);
            if (vendor == 0xffff) {
                continue;
            }
            functions++;
            scan_function(0, dev, fn);
            uint16_t id = pci_read16(0, dev, fn, PCI_DEVICE);
            /* Virtio's device IDs: 0x1000-0x103f transitional, 0x1040-0x107f modern (§4.1.2). */
            if (vendor == VIRTIO_VENDOR && id >= 0x1000 && id <= 0x107f) {
                virtio[nvirtio].dev = dev;
                virtio[nvirtio].fn = fn;
                virtio[nvirtio].id = id;
                nvirtio++;
            }
        }
    }
    probe_puts("pci functions=");
    probe_dec(functions);
    probe_putc('\n');

    for (uint32_t i = 0; i < nvirtio; i++) {
        uint16_t type;
        if (virtio[i].id >= VIRTIO_MODERN_BASE) {
            type = (uint16_t)(virtio[i].id - VIRTIO_MODERN_BASE);
        } else {
            /* 0x1000-0x103f: a transitional device (§4.1.2.1), whose Subsystem Device ID is the
             * virtio device type. It has the modern capabilities too (§4.1.4), which we use. */
            type = pci_read16(0, virtio[i].dev, virtio[i].fn, PCI_SUBSYSTEM + 2);
        }
        drive(0, virtio[i].dev, virtio[i].fn, virtio[i].id, type);
    }
    if (vp_opt.bench != 0) {
        vp_bench_missing();
    }
    probe_puts("virtio devices=");
    probe_dec(devices_found);
    probe_puts(" ok=");
    probe_dec(devices_ok);
    probe_putc('\n');
    probe_finish("VIRTIO-PROBE-DONE");
}
