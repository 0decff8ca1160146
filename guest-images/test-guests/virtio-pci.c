/*
 * The modern virtio-over-PCI transport (VIRTIO 1.2 §4.1) and split virtqueues (§2.7), driver
 * side, polling only: the driver asks for no interrupts (VIRTQ_AVAIL_F_NO_INTERRUPT, INTx
 * disabled in the Command register, MSI-X left disabled) and watches used->idx instead.
 */
#include "virtio-probe.h"

/* PCI configuration space (PCI Local Bus 3.0 §6.1, §6.7). */
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_BAR0 0x10
#define PCI_CAPABILITY_LIST 0x34
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CMD_MEMORY 0x0002
#define PCI_CMD_BUS_MASTER 0x0004
#define PCI_CMD_INTX_DISABLE 0x0400
#define PCI_CAP_ID_VENDOR 0x09

/* struct virtio_pci_cap (§4.1.4): cap_vndr, cap_next, cap_len, cfg_type, bar, id, padding[2],
 * offset (le32), length (le32); the notify capability adds notify_off_multiplier (le32). */
#define VCAP_CFG_TYPE 3
#define VCAP_BAR 4
#define VCAP_OFFSET 8
#define VCAP_LENGTH 12
#define VCAP_NOTIFY_MULT 16
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

/* struct virtio_pci_common_cfg (§4.1.4.3). */
#define CC_DEVICE_FEATURE_SELECT 0x00
#define CC_DEVICE_FEATURE 0x04
#define CC_DRIVER_FEATURE_SELECT 0x08
#define CC_DRIVER_FEATURE 0x0c
#define CC_MSIX_CONFIG 0x10
#define CC_NUM_QUEUES 0x12
#define CC_DEVICE_STATUS 0x14
#define CC_QUEUE_SELECT 0x16
#define CC_QUEUE_SIZE 0x18
#define CC_QUEUE_MSIX_VECTOR 0x1a
#define CC_QUEUE_ENABLE 0x1c
#define CC_QUEUE_NOTIFY_OFF 0x1e
#define CC_QUEUE_DESC 0x20
#define CC_QUEUE_DRIVER 0x28
#define CC_QUEUE_DEVICE 0x30
#define VIRTIO_MSI_NO_VECTOR 0xffff

/* Each queue gets one 4 KiB page of a static pool: descriptor table at +0x000 (16 bytes per
 * entry, 16-byte aligned), available ring at +0x100 (2-byte aligned), used ring at +0x200
 * (4-byte aligned) (§2.7: alignment 16, 2 and 4; sizes 16*16, 6+2*16 and 6+8*16 bytes). */
#define RING_PAGES 16
#define AVAIL_OFFSET 0x100
#define USED_OFFSET 0x200
static uint8_t ring_pages[RING_PAGES][4096] __attribute__((aligned(4096)));
static uint32_t ring_pages_used;

/* Benchmark mode's larger queues (up to 256 entries): descriptor table at +0x0000 (4096 bytes),
 * available ring at +0x1000 (6 + 2*256 bytes), used ring at +0x2000 (6 + 8*256 bytes). Three
 * queues: blk's one and net's two. */
#define BENCH_RINGS 3
#define BENCH_AVAIL_OFFSET 0x1000
#define BENCH_USED_OFFSET 0x2000
static uint8_t bench_rings[BENCH_RINGS][3 * 4096] __attribute__((aligned(4096)));
static uint32_t bench_rings_used;

uint16_t vq_size_cap = VQ_MAX_SIZE;

/* The next free address of the window BARs left at 0 are placed in. */
static uint64_t bar_window_next;
static int bar_window_started;

void virtio_line(struct vdev *d) {
    probe_puts("virtio ");
    vp_bdf(d->bus, d->dev, d->fn);
    probe_putc(' ');
}

void virtio_error(struct vdev *d, const char *what) {
    virtio_line(d);
    probe_puts("error: ");
    probe_puts(what);
    probe_putc('\n');
}

uint8_t virtio_status(struct vdev *d) {
    return mmio_read8(d->common + CC_DEVICE_STATUS);
}

/* §4.1.4.3.2: after writing 0 the driver waits until device_status reads 0 before it reuses the
 * rings (the device may still be finishing requests until then). */
void virtio_reset(struct vdev *d) {
    if (d->common == 0) {
        return;
    }
    mmio_write8(d->common + CC_DEVICE_STATUS, 0);
    struct vp_wait w;
    vp_wait_start(&w, vp_opt.timeout);
    do {
        if (virtio_status(d) == 0) {
            return;
        }
        vp_pause();
    } while (!vp_wait_over(&w));
    virtio_error(d, "device_status did not read 0 after a reset");
}

int virtio_give_up(struct vdev *d, const char *what) {
    if (what != 0) {
        virtio_error(d, what);
    }
    if (d->common != 0) {
        mmio_write8(d->common + CC_DEVICE_STATUS, (uint8_t)(virtio_status(d) | VS_FAILED));
        virtio_reset(d);
    }
    return -1;
}

static void set_status(struct vdev *d, uint8_t bits) {
    mmio_write8(d->common + CC_DEVICE_STATUS, (uint8_t)(virtio_status(d) | bits));
}

#define CC_CONFIG_GENERATION 0x15

static uint64_t cfg_field(struct vdev *d, uint32_t offset, uint32_t width) {
    uint64_t a = d->device_cfg + offset;
    switch (width) {
    case 1:
        return mmio_read8(a);
    case 2:
        return mmio_read16(a);
    case 4:
        return mmio_read32(a);
    default:
        return mmio_read32(a) | (uint64_t)mmio_read32(a + 4) << 32;
    }
}

int virtio_cfg_read(struct vdev *d, uint32_t offset, uint32_t width, uint64_t *out) {
    if (d->device_cfg == 0 || offset > d->device_cfg_len || width > d->device_cfg_len - offset
            || (offset & (width - 1)) != 0) {
        return -1;
    }
    /* §2.5.1 / §4.1.4.3: repeat until config_generation reads the same before and after, so the
     * halves of a 64-bit field belong together. */
    for (int tries = 0; tries < 100; tries++) {
        uint8_t before = mmio_read8(d->common + CC_CONFIG_GENERATION);
        *out = cfg_field(d, offset, width);
        if (mmio_read8(d->common + CC_CONFIG_GENERATION) == before) {
            return 0;
        }
    }
    virtio_error(d, "config_generation kept changing while the configuration was read");
    return -1;
}

/* ---- BARs ---- */

struct bar {
    uint64_t address;
    uint64_t size;
    int is64;
    int state;  /* 0 unknown, 1 usable, -1 unusable */
};

/* Reads and sizes memory BAR `index` (PCI Local Bus 3.0 §6.2.5.1: write all-ones, read back the
 * size mask, restore), placing it in the probe's window when the VMM left it at 0. Memory
 * decoding is off while it is sized, so the all-ones address never decodes. */
static int setup_bar(struct vdev *d, int index, struct bar *b) {
    uint8_t reg = (uint8_t)(PCI_BAR0 + 4 * index);
    uint32_t low = pci_read32(d->bus, d->dev, d->fn, reg);
    if (low & 1) {
        virtio_line(d);
        probe_puts("error: bar");
        probe_dec((uint32_t)index);
        probe_puts(" is an I/O BAR; this probe reaches virtio structures through memory BARs only\n");
        return -1;
    }
    b->is64 = ((low >> 1) & 3) == 2;
    if (b->is64 && index == 5) {
        virtio_error(d, "bar5 claims to be 64-bit, but no BAR follows it");
        return -1;
    }
    uint32_t high = b->is64 ? pci_read32(d->bus, d->dev, d->fn, (uint8_t)(reg + 4)) : 0;

    uint16_t cmd = pci_read16(d->bus, d->dev, d->fn, PCI_COMMAND);
    pci_write16(d->bus, d->dev, d->fn, PCI_COMMAND, (uint16_t)(cmd & ~PCI_CMD_MEMORY));
    pci_write32(d->bus, d->dev, d->fn, reg, 0xffffffffu);
    uint64_t mask = pci_read32(d->bus, d->dev, d->fn, reg) & ~0xfULL;
    if (b->is64) {
        pci_write32(d->bus, d->dev, d->fn, (uint8_t)(reg + 4), 0xffffffffu);
        mask |= (uint64_t)pci_read32(d->bus, d->dev, d->fn, (uint8_t)(reg + 4)) << 32;
        pci_write32(d->bus, d->dev, d->fn, (uint8_t)(reg + 4), high);
    } else {
        mask |= 0xffffffff00000000ULL;
    }
    pci_write32(d->bus, d->dev, d->fn, reg, low);
    pci_write16(d->bus, d->dev, d->fn, PCI_COMMAND, cmd);
    if ((mask & 0xffffffffULL) == 0) {
        virtio_line(d);
        probe_puts("error: bar");
        probe_dec((uint32_t)index);
        probe_puts(" is not implemented (reads 0 after writing all-ones)\n");
        return -1;
    }
    b->size = ~mask + 1;
    b->address = ((uint64_t)high << 32 | low) & ~0xfULL;

    const char *source = "vmm";
    if (b->address == 0) {
        /* Nobody placed it: take the next naturally aligned slot of our window (§6.2.5.1). */
        if (!bar_window_started) {
            bar_window_next = vp_opt.bar_window;
            bar_window_started = 1;
        }
        uint64_t at = (bar_window_next + b->size - 1) & ~(b->size - 1);
        if (!b->is64 && at + b->size > (1ULL << 32)) {
            virtio_error(d, "a 32-bit BAR at 0 does not fit below 4 GiB in the window (vprobe.bar_window)");
            return -1;
        }
        bar_window_next = at + b->size;
        b->address = at;
        pci_write32(d->bus, d->dev, d->fn, reg, (uint32_t)at | (low & 0xf));
        if (b->is64) {
            pci_write32(d->bus, d->dev, d->fn, (uint8_t)(reg + 4), (uint32_t)(at >> 32));
        }
        source = "probe";
    }
    virtio_line(d);
    probe_puts("bar");
    probe_dec((uint32_t)index);
    probe_putc('=');
    probe_hex64(b->address);
    probe_puts(" size=");
    probe_hex64(b->size);
    probe_puts(b->is64 ? " mem64" : " mem32");
    probe_puts((low & 8) ? " prefetchable" : "");
    probe_puts(" placed-by=");
    probe_puts(source);
    probe_putc('\n');
    if (vp_map_mmio(b->address, b->size) != 0) {
        virtio_error(d, "the BAR cannot be mapped (beyond the 128 TiB identity map or out of page tables)");
        return -1;
    }
    return 0;
}

/* ---- capabilities ---- */

struct vcap {
    int found;
    uint8_t bar;
    uint32_t offset;
    uint32_t length;
    uint32_t mult;
};

static const char *const CAP_NAMES[] = {"", "common", "notify", "isr", "device"};

/* Walks the capability list (PCI Local Bus 3.0 §6.7) for the virtio vendor capabilities
 * (§4.1.4); the first of each type is the one to use ("the driver SHOULD use the first
 * instance"). At most 48 steps: a looped list cannot hang the probe. */
static void find_caps(struct vdev *d, struct vcap caps[5]) {
    memset(caps, 0, 5 * sizeof caps[0]);
    if (!(pci_read16(d->bus, d->dev, d->fn, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
        return;
    }
    uint8_t at = pci_read8(d->bus, d->dev, d->fn, PCI_CAPABILITY_LIST) & 0xfc;
    for (int steps = 0; at >= 0x40 && steps < 48; steps++) {
        uint8_t id = pci_read8(d->bus, d->dev, d->fn, at);
        uint8_t next = pci_read8(d->bus, d->dev, d->fn, (uint8_t)(at + 1)) & 0xfc;
        if (id == PCI_CAP_ID_VENDOR) {
            uint8_t type = pci_read8(d->bus, d->dev, d->fn, (uint8_t)(at + VCAP_CFG_TYPE));
            if (type >= 1 && type <= 4 && !caps[type].found) {
                caps[type].found = 1;
                caps[type].bar = pci_read8(d->bus, d->dev, d->fn, (uint8_t)(at + VCAP_BAR));
                caps[type].offset = pci_read32(d->bus, d->dev, d->fn, (uint8_t)(at + VCAP_OFFSET));
                caps[type].length = pci_read32(d->bus, d->dev, d->fn, (uint8_t)(at + VCAP_LENGTH));
                if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
                    caps[type].mult = pci_read32(d->bus, d->dev, d->fn, (uint8_t)(at + VCAP_NOTIFY_MULT));
                }
            }
        }
        at = next;
    }
}

/* ---- queues ---- */

static int setup_queue(struct vdev *d, uint16_t index) {
    struct vq *q = &d->q[index];
    uint64_t cc = d->common;
    mmio_write16(cc + CC_QUEUE_SELECT, index);
    uint16_t max = mmio_read16(cc + CC_QUEUE_SIZE);
    if (max == 0) {
        return virtio_give_up(d, "a queue the device needs reads queue_size 0 (not available)");
    }
    /* The driver may write a smaller size (§4.1.4.3.2); split queues are powers of 2 (§2.7). */
    uint16_t size = vq_size_cap;
    while (size > max) {
        size >>= 1;
    }
    uint8_t *page;
    uint32_t avail_offset = AVAIL_OFFSET;
    uint32_t used_offset = USED_OFFSET;
    if (size > VQ_MAX_SIZE) {
        if (bench_rings_used == BENCH_RINGS) {
            return virtio_give_up(d, "out of benchmark rings (the probe has 3 large queues in all)");
        }
        page = bench_rings[bench_rings_used++];
        memset(page, 0, sizeof bench_rings[0]);
        avail_offset = BENCH_AVAIL_OFFSET;
        used_offset = BENCH_USED_OFFSET;
    } else {
        if (ring_pages_used == RING_PAGES) {
            return virtio_give_up(d, "out of ring pages (the probe has 16 queues in all)");
        }
        page = ring_pages[ring_pages_used++];
        memset(page, 0, 4096);
    }
    q->index = index;
    q->size = size;
    q->next_desc = 0;
    q->avail_idx = 0;
    q->last_used = 0;
    q->desc = (volatile struct vring_desc *)page;
    q->avail = (volatile uint16_t *)(page + avail_offset);
    q->used = page + used_offset;
    /* We poll; ask the device not to interrupt (§2.7.10). */
    q->avail[0] = VRING_AVAIL_F_NO_INTERRUPT;

    uint64_t desc = (uint64_t)(uintptr_t)q->desc;
    uint64_t avail = (uint64_t)(uintptr_t)q->avail;
    uint64_t used = (uint64_t)(uintptr_t)q->used;
    mmio_write16(cc + CC_QUEUE_SIZE, size);
    mmio_write16(cc + CC_QUEUE_MSIX_VECTOR, VIRTIO_MSI_NO_VECTOR);
    mmio_write32(cc + CC_QUEUE_DESC, (uint32_t)desc);
    mmio_write32(cc + CC_QUEUE_DESC + 4, (uint32_t)(desc >> 32));
    mmio_write32(cc + CC_QUEUE_DRIVER, (uint32_t)avail);
    mmio_write32(cc + CC_QUEUE_DRIVER + 4, (uint32_t)(avail >> 32));
    mmio_write32(cc + CC_QUEUE_DEVICE, (uint32_t)used);
    mmio_write32(cc + CC_QUEUE_DEVICE + 4, (uint32_t)(used >> 32));
    uint16_t notify_off = mmio_read16(cc + CC_QUEUE_NOTIFY_OFF);
    /* §4.1.4.4: cap.offset + queue_notify_off * notify_off_multiplier, inside the capability. */
    uint64_t off = (uint64_t)notify_off * d->notify_mult;
    if (off + 2 > d->notify_len) {
        return virtio_give_up(d, "a queue's notification address lies outside the notify capability");
    }
    q->notify = d->notify_base + off;
    mmio_write16(cc + CC_QUEUE_ENABLE, 1);

    virtio_line(d);
    probe_puts("queue=");
    probe_dec(index);
    probe_puts(" max=");
    probe_dec(max);
    probe_puts(" size=");
    probe_dec(size);
    probe_puts(" desc=");
    probe_hex64(desc);
    probe_puts(" avail=");
    probe_hex64(avail);
    probe_puts(" used=");
    probe_hex64(used);
    probe_puts(" notify=");
    probe_hex64(q->notify);
    probe_putc('\n');
    return 0;
}

int virtio_setup(struct vdev *d, uint8_t bus, uint8_t dev, uint8_t fn, uint16_t device_id,
                 uint16_t type, uint64_t wanted, int nqueues) {
    static const char *const NAMES[] = {"?", "net", "blk", "console", "rng"};
    d->bus = bus;
    d->dev = dev;
    d->fn = fn;
    d->type = type;
    d->name = type <= VIRTIO_TYPE_ENTROPY ? NAMES[type] : "?";
    virtio_line(d);
    probe_puts("type=");
    probe_puts(d->name);
    probe_puts(" device=");
    vp_hex16(device_id);
    probe_putc('\n');

    struct vcap caps[5];
    find_caps(d, caps);
    virtio_line(d);
    probe_puts("caps");
    for (int t = 1; t <= 4; t++) {
        probe_putc(' ');
        probe_puts(CAP_NAMES[t]);
        probe_putc('=');
        if (!caps[t].found) {
            probe_puts("none");
            continue;
        }
        probe_puts("bar");
        probe_dec(caps[t].bar);
        probe_putc('+');
        probe_hex32(caps[t].offset);
        probe_putc('/');
        probe_hex32(caps[t].length);
    }
    probe_puts(" notify_multiplier=");
    probe_dec(caps[VIRTIO_PCI_CAP_NOTIFY_CFG].mult);
    probe_putc('\n');
    if (!caps[VIRTIO_PCI_CAP_COMMON_CFG].found || !caps[VIRTIO_PCI_CAP_NOTIFY_CFG].found
            || !caps[VIRTIO_PCI_CAP_ISR_CFG].found) {
        return virtio_give_up(d, "the common, notify or ISR capability is missing (§4.1.4)");
    }
    if (caps[VIRTIO_PCI_CAP_COMMON_CFG].length < 0x38) {
        return virtio_give_up(d, "the common configuration is shorter than 0x38 bytes (§4.1.4.3)");
    }

    /* BARs named by the capabilities, each set up once. */
    struct bar bars[6];
    memset(bars, 0, sizeof bars);
    uint64_t base[5] = {0, 0, 0, 0, 0};
    for (int t = 1; t <= 4; t++) {
        if (!caps[t].found) {
            continue;
        }
        uint8_t i = caps[t].bar;
        if (i > 5) {
            return virtio_give_up(d, "a capability names a BAR above 5");
        }
        if (bars[i].state == 0) {
            bars[i].state = setup_bar(d, i, &bars[i]) == 0 ? 1 : -1;
        }
        if (bars[i].state < 0) {
            return virtio_give_up(d, "a BAR the capabilities need is unusable");
        }
        if ((uint64_t)caps[t].offset + caps[t].length > bars[i].size) {
            return virtio_give_up(d, "a capability extends past the end of its BAR");
        }
        base[t] = bars[i].address + caps[t].offset;
    }
    d->common = base[VIRTIO_PCI_CAP_COMMON_CFG];
    d->notify_base = base[VIRTIO_PCI_CAP_NOTIFY_CFG];
    d->notify_mult = caps[VIRTIO_PCI_CAP_NOTIFY_CFG].mult;
    d->notify_len = caps[VIRTIO_PCI_CAP_NOTIFY_CFG].length;
    d->isr = base[VIRTIO_PCI_CAP_ISR_CFG];
    d->device_cfg = base[VIRTIO_PCI_CAP_DEVICE_CFG];
    d->device_cfg_len = caps[VIRTIO_PCI_CAP_DEVICE_CFG].length;

    /* Memory decoding for the BARs, bus mastering for the device's DMA into our rings, and no
     * INTx: we poll (PCI Local Bus 3.0 §6.2.2, Command register bits 1, 2 and 10). */
    uint16_t cmd = pci_read16(bus, dev, fn, PCI_COMMAND);
    pci_write16(bus, dev, fn, PCI_COMMAND,
            (uint16_t)(cmd | PCI_CMD_MEMORY | PCI_CMD_BUS_MASTER | PCI_CMD_INTX_DISABLE));

    /* §3.1.1 driver initialization, steps 1-8. */
    virtio_reset(d);
    set_status(d, VS_ACKNOWLEDGE);
    set_status(d, VS_DRIVER);
    uint64_t cc = d->common;
    mmio_write32(cc + CC_DEVICE_FEATURE_SELECT, 0);
    d->offered = mmio_read32(cc + CC_DEVICE_FEATURE);
    mmio_write32(cc + CC_DEVICE_FEATURE_SELECT, 1);
    d->offered |= (uint64_t)mmio_read32(cc + CC_DEVICE_FEATURE) << 32;
    d->accepted = d->offered & (VIRTIO_F_VERSION_1 | wanted);
    virtio_line(d);
    probe_puts("features offered=");
    probe_hex64(d->offered);
    probe_puts(" accepted=");
    probe_hex64(d->accepted);
    probe_putc('\n');
    if (!(d->offered & VIRTIO_F_VERSION_1)) {
        return virtio_give_up(d, "VIRTIO_F_VERSION_1 is not offered (a legacy-only device)");
    }
    mmio_write32(cc + CC_DRIVER_FEATURE_SELECT, 0);
    mmio_write32(cc + CC_DRIVER_FEATURE, (uint32_t)d->accepted);
    mmio_write32(cc + CC_DRIVER_FEATURE_SELECT, 1);
    mmio_write32(cc + CC_DRIVER_FEATURE, (uint32_t)(d->accepted >> 32));
    set_status(d, VS_FEATURES_OK);
    uint8_t s = virtio_status(d);
    if (!(s & VS_FEATURES_OK)) {
        virtio_line(d);
        probe_puts("error: FEATURES_OK did not stick (status=0x");
        probe_hex8(s);
        probe_puts(")\n");
        return virtio_give_up(d, 0);
    }

    uint16_t num_queues = mmio_read16(cc + CC_NUM_QUEUES);
    if (num_queues < nqueues) {
        return virtio_give_up(d, "num_queues is smaller than the queues this device type has");
    }
    mmio_write16(cc + CC_MSIX_CONFIG, VIRTIO_MSI_NO_VECTOR);
    for (uint16_t i = 0; i < nqueues; i++) {
        if (setup_queue(d, i) != 0) {
            return -1;
        }
    }
    set_status(d, VS_DRIVER_OK);
    s = virtio_status(d);
    virtio_line(d);
    probe_puts("driver-ok status=0x");
    probe_hex8(s);
    probe_putc('\n');
    if (s & VS_DEVICE_NEEDS_RESET) {
        return virtio_give_up(d, "DEVICE_NEEDS_RESET right after DRIVER_OK");
    }
    if ((s & (VS_ACKNOWLEDGE | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK)) != 0x0f) {
        return virtio_give_up(d, "the status does not hold the bits we set");
    }
    return 0;
}

/* ---- requests ---- */

int vq_add(struct vdev *d, struct vq *q, const struct vbuf *bufs, int n) {
    if (n < 1 || n > q->size) {
        virtio_error(d, "a request has more buffers than the queue has descriptors");
        return -1;
    }
    uint16_t head = q->next_desc;
    for (int i = 0; i < n; i++) {
        uint16_t at = (uint16_t)((head + i) % q->size);
        q->desc[at].addr = (uint64_t)(uintptr_t)bufs[i].addr;
        q->desc[at].len = bufs[i].len;
        q->desc[at].flags = (uint16_t)((bufs[i].device_writes ? VRING_DESC_F_WRITE : 0)
                | (i + 1 < n ? VRING_DESC_F_NEXT : 0));
        q->desc[at].next = (uint16_t)((at + 1) % q->size);
    }
    q->next_desc = (uint16_t)((head + n) % q->size);
    vq_repost(q, head);
    return head;
}

/* §2.7.13: the ring entry, a write barrier, then the index. */
void vq_repost(struct vq *q, uint16_t head) {
    q->avail[2 + q->avail_idx % q->size] = head;
    vp_barrier();
    q->avail_idx++;
    q->avail[1] = q->avail_idx;
    vp_barrier();
}

/* §4.1.5.2: the 16-bit queue index written to the queue's notification address. */
void vq_notify(struct vq *q) {
    mmio_write16(q->notify, q->index);
}

int vq_poll(struct vdev *d, struct vq *q, uint32_t *id, uint32_t *len) {
    volatile uint16_t *used_idx = (volatile uint16_t *)(q->used + 2);
    if (*used_idx == q->last_used) {
        return 0;
    }
    vp_barrier(); /* §2.7.14: read the element only after seeing the index move */
    volatile uint32_t *elem = (volatile uint32_t *)(q->used + 4 + 8 * (q->last_used % q->size));
    *id = elem[0];
    *len = elem[1];
    q->last_used++;
    if (*id >= q->size) {
        virtio_error(d, "the used ring returned a descriptor id beyond the queue size");
        return -1;
    }
    return 1;
}

int vq_wait(struct vdev *d, struct vq *q, uint32_t *id, uint32_t *len) {
    struct vp_wait w;
    vp_wait_start(&w, vp_opt.timeout);
    do {
        int r = vq_poll(d, q, id, len);
        if (r != 0) {
            return r > 0 ? 0 : -1;
        }
        /* Now and then, check whether the device gave up instead (§2.1.2). */
        if ((w.polls & 0xffff) == 0xffff && (virtio_status(d) & VS_DEVICE_NEEDS_RESET)) {
            virtio_error(d, "the device set DEVICE_NEEDS_RESET while we waited");
            return -1;
        }
        vp_pause();
    } while (!vp_wait_over(&w));
    virtio_line(d);
    probe_puts("error: timeout on queue ");
    probe_dec(q->index);
    probe_puts(" after ");
    probe_dec(w.polls);
    probe_puts(" polls (status=0x");
    probe_hex8(virtio_status(d));
    probe_puts(")\n");
    return -1;
}

int vq_transfer(struct vdev *d, struct vq *q, const struct vbuf *bufs, int n, uint32_t *len) {
    int head = vq_add(d, q, bufs, n);
    if (head < 0) {
        return -1;
    }
    vq_notify(q);
    uint32_t id;
    if (vq_wait(d, q, &id, len) != 0) {
        return -1;
    }
    if (id != (uint32_t)head) {
        virtio_error(d, "the used ring returned a chain we did not submit last");
        return -1;
    }
    return 0;
}
