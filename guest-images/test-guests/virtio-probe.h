/*
 * virtio-probe: declarations shared by its C files (virtio-probe.c: boot, options, paging and
 * PCI enumeration; virtio-pci.c: the virtio-over-PCI transport and split virtqueues;
 * virtio-devices.c: block, network, console and entropy). 64-bit code only.
 */
#ifndef VIRTIO_PROBE_H
#define VIRTIO_PROBE_H

#include <stdint.h>
#include "probe.h"

/* ---- port and memory-mapped I/O ---- */

static inline void vp_outb(uint16_t port, uint8_t v) {
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void vp_outw(uint16_t port, uint16_t v) {
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void vp_outl(uint16_t port, uint32_t v) {
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t vp_inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t vp_inl(uint16_t port) {
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* One access of exactly the field's width (VIRTIO 1.2 §4.1.3.1: the driver accesses each field
 * of the common configuration with its natural width; 64-bit fields as two 32-bit halves). */
static inline uint8_t mmio_read8(uint64_t a) { return *(volatile uint8_t *)(uintptr_t)a; }
static inline uint16_t mmio_read16(uint64_t a) { return *(volatile uint16_t *)(uintptr_t)a; }
static inline uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)(uintptr_t)a; }
static inline void mmio_write8(uint64_t a, uint8_t v) { *(volatile uint8_t *)(uintptr_t)a = v; }
static inline void mmio_write16(uint64_t a, uint16_t v) { *(volatile uint16_t *)(uintptr_t)a = v; }
static inline void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)(uintptr_t)a = v; }

/* x86 keeps stores in order and loads in order (SDM Vol. 3A §9.2.2), so the ring barriers that
 * VIRTIO 1.2 §2.7.13 asks for need only stop the compiler from reordering. */
static inline void vp_barrier(void) { __asm__ volatile("" : : : "memory"); }
static inline void vp_pause(void) { __asm__ volatile("pause" : : : "memory"); }

void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);

/* ---- output helpers beyond probe.h ---- */

void vp_hex16(uint16_t v);                    /* 0x + 4 digits */
void vp_hex24(uint32_t v);                    /* 0x + 6 digits */
void vp_bdf(uint8_t bus, uint8_t dev, uint8_t fn);  /* bb:dd.f in hex */
void vp_mac(const volatile uint8_t *mac);     /* xx:xx:xx:xx:xx:xx */
void vp_quoted(const volatile uint8_t *p, uint32_t max);  /* "..." stopping at NUL or max */
void vp_hexbytes(const volatile uint8_t *p, uint32_t n);  /* 2 digits per byte, no spaces */
void vp_dec64(uint64_t v);

/* ---- command-line options (README.md, "virtio-probe") ---- */

#define NET_TX_MAX 1500
#define BENCH_BLK_SEQ_READ 1u
#define BENCH_BLK_SEQ_WRITE 2u
#define BENCH_BLK_RAND_READ 4u
#define BENCH_BLK_RAND_WRITE 8u
#define BENCH_NET_TX 16u
#define BENCH_BLK (BENCH_BLK_SEQ_READ | BENCH_BLK_SEQ_WRITE | BENCH_BLK_RAND_READ | BENCH_BLK_RAND_WRITE)
#define BENCH_FRAME_LENS_MAX 4
struct vp_options {
    uint32_t blk_read;          /* sectors 0 .. blk_read-1 are read */
    int blk_write;              /* a write was asked for */
    uint64_t blk_write_sector;
    uint8_t blk_write_byte;
    uint8_t net_tx[NET_TX_MAX]; /* the payload sent after the Ethernet header */
    uint32_t net_tx_len;
    uint8_t net_dst[6];
    uint16_t net_type;
    uint16_t net_rx_type;       /* only frames of this ethertype count as received; 0: any */
    uint32_t net_rx_timeout;    /* seconds to wait for a frame; 0: do not wait */
    uint32_t timeout;           /* seconds a request (or a reset) may take */
    uint32_t polls;             /* a cap on the polls of any one wait, should the RTC not tick */
    uint64_t bar_window;        /* where the probe places BARs the VMM left at 0 */
    /* Benchmark mode (README.md, "Benchmark mode"); bench == 0 when vprobe.bench is absent. */
    uint32_t bench;             /* BENCH_* bits */
    uint32_t bench_seq_mib;     /* MiB moved by each sequential test, 1 MiB per request */
    uint32_t bench_rand_ops;    /* 4 KiB requests of each random test */
    uint32_t bench_frames;      /* frames sent per frame length */
    uint32_t bench_frame_lens[BENCH_FRAME_LENS_MAX];
    uint32_t bench_nframe_lens;
    uint64_t bench_seed;        /* the random tests' LCG seed */
};
extern struct vp_options vp_opt;

/* ---- bounded waits ---- */

/* A wait of about `seconds` of wall-clock time, measured on the CMOS RTC (its seconds register
 * changing) so that it means the same on a host that runs the guest natively and on one whose
 * KVM emulates every instruction; capped at vp_opt.polls polls in case the RTC does not tick. */
struct vp_wait {
    uint32_t polls;
    uint32_t ticks;
    uint32_t max_ticks;
    uint8_t last;
};
void vp_wait_start(struct vp_wait *w, uint32_t seconds);
/* Call once per poll: 1 when the wait is over. */
int vp_wait_over(struct vp_wait *w);

/* ---- time stamp counter, for benchmark mode ---- */

static inline uint64_t vp_rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}
uint8_t vp_rtc_seconds(void);

/* ---- paging ---- */

/* Makes [base, base+size) reachable and uncached (PCD|PWT: memory-mapped I/O, SDM Vol. 3A
 * §12.3); returns 0, or -1 when the address is beyond the 48-bit identity map or the table
 * pool is exhausted. */
int vp_map_mmio(uint64_t base, uint64_t size);

/* ---- PCI configuration mechanism #1 ---- */

uint32_t pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg);
uint16_t pci_read16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg);
uint8_t pci_read8(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg);
void pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg, uint32_t v);
void pci_write16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg, uint16_t v);

/* ---- virtio ---- */

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_MODERN_BASE 0x1040     /* §4.1.2.1: 0x1040 + device type */
#define VIRTIO_TYPE_NET 1
#define VIRTIO_TYPE_BLOCK 2
#define VIRTIO_TYPE_CONSOLE 3
#define VIRTIO_TYPE_ENTROPY 4

#define VIRTIO_F_VERSION_1 (1ULL << 32)

/* Device status, §2.1. */
#define VS_ACKNOWLEDGE 1
#define VS_DRIVER 2
#define VS_DRIVER_OK 4
#define VS_FEATURES_OK 8
#define VS_DEVICE_NEEDS_RESET 64
#define VS_FAILED 128

/* Split virtqueue, §2.7. */
#define VQ_MAX_SIZE 16
/* Benchmark mode only: blk and net queues of up to 256 entries (enough for a 1 MiB request in
 * 8 KiB segments, and for many frames in flight), each in three static pages of their own. */
#define VQ_BENCH_MAX_SIZE 256
/* The largest queue size virtio_setup may choose for the next device: VQ_MAX_SIZE, or
 * VQ_BENCH_MAX_SIZE for a device benchmark mode drives. */
extern uint16_t vq_size_cap;
#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_AVAIL_F_NO_INTERRUPT 1

struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct vq {
    uint16_t index;
    uint16_t size;              /* 0: not set up */
    uint16_t next_desc;         /* descriptors are handed out round robin */
    uint16_t avail_idx;         /* our copy of avail->idx */
    uint16_t last_used;         /* the used->idx we have consumed up to */
    volatile struct vring_desc *desc;
    volatile uint16_t *avail;   /* flags, idx, ring[size], used_event */
    volatile uint8_t *used;     /* flags, idx, ring[size] of {le32 id, le32 len}, avail_event */
    uint64_t notify;            /* the address the driver writes the queue index to */
};

struct vdev {
    uint8_t bus, dev, fn;
    uint16_t type;
    const char *name;
    uint64_t common;            /* struct virtio_pci_common_cfg, §4.1.4.3 */
    uint64_t isr;
    uint64_t device_cfg;        /* 0 when the device has no such capability */
    uint32_t device_cfg_len;
    uint64_t notify_base;
    uint32_t notify_len;
    uint32_t notify_mult;
    uint64_t offered;
    uint64_t accepted;
    struct vq q[2];
};

/* One buffer of a descriptor chain. */
struct vbuf {
    const volatile void *addr;
    uint32_t len;
    int device_writes;
};

/* Brings the device at bus:dev.fn (virtio device `type`) up to DRIVER_OK with queues 0 .. nqueues-1, accepting
 * VERSION_1 and the bits of `wanted` the device offers. Prints its lines; returns 0 or -1
 * (after printing the error line and resetting the device). */
int virtio_setup(struct vdev *d, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t device_id,
                 uint16_t type, uint64_t wanted, int nqueues);

/* Adds one chain to queue q's available ring (without notifying); returns its head or -1. */
int vq_add(struct vdev *d, struct vq *q, const struct vbuf *bufs, int n);
void vq_notify(struct vq *q);
/* Polls the used ring for the next used element for up to vp_opt.timeout seconds; returns 0
 * and fills id/len, or -1 on a timeout or when the device asks for a reset (printing which). */
int vq_wait(struct vdev *d, struct vq *q, uint32_t *id, uint32_t *len);
/* Takes the next used element if there is one: returns 1 and fills id/len, 0 when the used
 * ring has nothing new, -1 when the element is invalid (printed). */
int vq_poll(struct vdev *d, struct vq *q, uint32_t *id, uint32_t *len);
/* Puts head back on the available ring (a reposted receive buffer). */
void vq_repost(struct vq *q, uint16_t head);
/* add + notify + wait for that chain. */
int vq_transfer(struct vdev *d, struct vq *q, const struct vbuf *bufs, int n, uint32_t *len);

uint8_t virtio_status(struct vdev *d);
/* Prints `what` as an error line (unless 0: already printed), marks the device FAILED (§2.1:
 * the driver gave up on it) and resets it, so that it stops using our rings and buffers before
 * the next device reuses the buffers. Returns -1. */
int virtio_give_up(struct vdev *d, const char *what);
/* One device configuration field (§4.1.4.6) of `width` 1, 2, 4 or 8 bytes, read with its
 * natural width (§4.1.3.1: 64-bit fields as two 32-bit reads) under the configuration
 * generation (§2.5.1); -1 when it is outside the capability or misaligned. */
int virtio_cfg_read(struct vdev *d, uint32_t offset, uint32_t width, uint64_t *out);
void virtio_reset(struct vdev *d);
void virtio_error(struct vdev *d, const char *what);   /* "virtio bb:dd.f error: what" */
void virtio_line(struct vdev *d);                      /* "virtio bb:dd.f " */

/* Device drivers: each returns 0 when everything it tried worked. */
int virtio_blk(struct vdev *d);
int virtio_net(struct vdev *d);
int virtio_console(struct vdev *d);
int virtio_rng(struct vdev *d);

/* Benchmark mode (virtio-bench.c). vp_bench_calibrate runs once before PCI enumeration; the
 * device benchmarks replace virtio_blk/virtio_net when vprobe.bench names a test of theirs;
 * vp_bench_missing reports the tests no device ran. Each returns 0 when every test it ran
 * completed. */
void vp_bench_calibrate(void);
int virtio_blk_bench(struct vdev *d);
int virtio_net_bench(struct vdev *d);
void vp_bench_missing(void);

#endif
