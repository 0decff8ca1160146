/*
 * virtio-probe's benchmark mode (vprobe.bench=..., README.md "Benchmark mode"): times a fixed
 * amount of virtio-blk and virtio-net work with the TSC, calibrated against the CMOS RTC's
 * seconds, and prints one machine-parseable line per test. The same image runs under Ristretto
 * and under QEMU (bench/virtio-bench.sh), so the two VMMs are compared on identical driver work.
 *
 * Like the rest of the probe it polls: one block request in flight at a time (what a
 * synchronous driver sees: the VMM's per-request latency), a full transmit queue of frames for
 * the network (what the device can drain).
 */
#include "virtio-probe.h"

/* The TSC rate measured by vp_bench_calibrate; 0 until then. */
static uint64_t tsc_hz;
/* The tests some device ran, so vp_bench_missing can name the others. */
static uint32_t bench_ran;

/* ---- time ---- */

/* Waits for the RTC's seconds register to change; returns 0, or -1 after vp_opt.polls reads
 * (an RTC that does not tick). */
static int rtc_edge(void) {
    uint8_t last = vp_rtc_seconds();
    for (uint32_t i = 0; i < vp_opt.polls; i++) {
        if (vp_rtc_seconds() != last) {
            return 0;
        }
    }
    return -1;
}

/* Counts TSC cycles between two RTC seconds edges CALIBRATION_SECONDS apart. Each edge is seen
 * within one RTC read (two port exits: tens of microseconds in KVM's instruction emulator,
 * well under a microsecond natively), so the rate is good to about 1e-4 even when emulated. */
#define CALIBRATION_SECONDS 2

void vp_bench_calibrate(void) {
    if (rtc_edge() != 0) {
        probe_puts("bench tsc error: the RTC seconds register did not change; no figures\n");
        return;
    }
    uint64_t t0 = vp_rdtsc();
    for (int s = 0; s < CALIBRATION_SECONDS; s++) {
        if (rtc_edge() != 0) {
            probe_puts("bench tsc error: the RTC seconds register stopped changing; no figures\n");
            return;
        }
    }
    uint64_t t1 = vp_rdtsc();
    tsc_hz = (t1 - t0) / CALIBRATION_SECONDS;
    probe_puts("bench tsc hz=");
    vp_dec64(tsc_hz);
    probe_puts(" rtc_seconds=");
    probe_dec(CALIBRATION_SECONDS);
    probe_puts(" cycles=");
    vp_dec64(t1 - t0);
    probe_putc('\n');
}

/* cycles * 1e9 / hz without overflowing 64 bits: whole seconds first, then the remainder
 * (< hz, so remainder * 1e9 < 2^64 for any hz below 18 GHz). */
static uint64_t cycles_to_ns(uint64_t cycles) {
    return cycles / tsc_hz * 1000000000ULL + cycles % tsc_hz * 1000000000ULL / tsc_hz;
}

static void bench_prefix(const char *name) {
    probe_puts("bench ");
    probe_puts(name);
    probe_putc(' ');
}

/* ---- block (§5.2) ---- */

#define VIRTIO_BLK_F_SIZE_MAX (1ULL << 1)
#define VIRTIO_BLK_F_SEG_MAX (1ULL << 2)
#define VIRTIO_BLK_F_RO (1ULL << 5)
#define VIRTIO_BLK_F_FLUSH (1ULL << 9)
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define BLK_CFG_SIZE_MAX 8      /* struct virtio_blk_config: le32 size_max at 8, le32 seg_max at 12 */
#define BLK_CFG_SEG_MAX 12
#define SECTOR 512
#define SEQ_REQUEST (1024 * 1024)
#define RAND_REQUEST 4096
#define MIN_SEGMENT 4096
#define MAX_SEGMENTS (SEQ_REQUEST / MIN_SEGMENT)

static struct {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
} bench_header __attribute__((aligned(16)));
static volatile uint8_t bench_status;
static uint8_t bench_data[SEQ_REQUEST] __attribute__((aligned(4096)));
static struct vbuf bench_chain[MAX_SEGMENTS + 2];

/* The segment size of a 1 MiB request: 4 KiB, doubled until the data segments fit both the
 * device's seg_max and the queue (header and status take a descriptor each, and a chain may
 * not be longer than the queue: §2.7.5.3.1); at most size_max when the device sets one. */
static uint32_t segment_bytes;

static int blk_segments(struct vdev *d) {
    if (d->q[0].size < 3) {
        return virtio_give_up(d, "the request queue is too small for header, data and status");
    }
    uint32_t limit = d->q[0].size - 2u;
    uint64_t v;
    if (d->accepted & VIRTIO_BLK_F_SEG_MAX) {
        if (virtio_cfg_read(d, BLK_CFG_SEG_MAX, 4, &v) != 0) {
            return virtio_give_up(d, "VIRTIO_BLK_F_SEG_MAX without a seg_max field");
        }
        if (v < limit) {
            limit = (uint32_t)v;
        }
    }
    if (limit == 0) {
        return virtio_give_up(d, "seg_max is 0: no request can carry data");
    }
    segment_bytes = MIN_SEGMENT;
    while (SEQ_REQUEST / segment_bytes > limit) {
        segment_bytes *= 2;
    }
    if (d->accepted & VIRTIO_BLK_F_SIZE_MAX) {
        if (virtio_cfg_read(d, BLK_CFG_SIZE_MAX, 4, &v) != 0) {
            return virtio_give_up(d, "VIRTIO_BLK_F_SIZE_MAX without a size_max field");
        }
        if (v < segment_bytes) {
            return virtio_give_up(d, "size_max and seg_max together do not allow a 1 MiB request");
        }
    }
    return 0;
}

/* Polls before a request's wait starts consulting the RTC: vq_wait reads the RTC (two VM
 * exits) when it starts, which would add two exits to every timed request. */
#define FAST_POLLS 4096

/* vq_transfer without that per-request RTC read: add, notify, then poll; only a request that
 * takes more than FAST_POLLS polls gets the RTC-bounded wait (vp_opt.timeout seconds). */
static int bench_transfer(struct vdev *d, const struct vbuf *bufs, int n) {
    struct vq *q = &d->q[0];
    int head = vq_add(d, q, bufs, n);
    if (head < 0) {
        return -1;
    }
    vq_notify(q);
    uint32_t id;
    uint32_t len;
    for (uint32_t polls = 0; polls < FAST_POLLS; polls++) {
        int r = vq_poll(d, q, &id, &len);
        if (r < 0) {
            return -1;
        }
        if (r > 0) {
            goto done;
        }
        vp_pause();
    }
    if (vq_wait(d, q, &id, &len) != 0) {
        return -1;
    }
done:
    if (id != (uint32_t)head) {
        virtio_error(d, "the used ring returned a chain we did not submit");
        return -1;
    }
    return 0;
}

/* One request of `bytes` at `sector`, split into segment_bytes pieces; returns the status byte
 * (0 OK) or -1 on a transport error (already printed). */
static int blk_io(struct vdev *d, uint32_t type, uint64_t sector, uint32_t bytes) {
    bench_header.type = type;
    bench_header.reserved = 0;
    bench_header.sector = sector;
    bench_status = 0xff;
    int n = 0;
    bench_chain[n++] = (struct vbuf){&bench_header, sizeof bench_header, 0};
    for (uint32_t off = 0; off < bytes; off += segment_bytes) {
        uint32_t len = bytes - off < segment_bytes ? bytes - off : segment_bytes;
        bench_chain[n++] = (struct vbuf){bench_data + off, len, type == VIRTIO_BLK_T_IN};
    }
    bench_chain[n++] = (struct vbuf){&bench_status, 1, 1};
    if (bench_transfer(d, bench_chain, n) != 0) {
        return -1;
    }
    return bench_status;
}

/* Knuth's MMIX LCG (a = 6364136223846793005, c = 1442695040888963407); its high bits are the
 * well-mixed ones. Fixed seed: both VMMs see the same offsets. */
static uint64_t lcg_state;

static uint64_t lcg_next(void) {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lcg_state >> 16;
}

/* The write tests write this pattern (not zeroes, which a host might treat specially). One
 * `rep stosq`: a single instruction even in KVM's instruction emulator. */
static void fill_pattern(void) {
    void *dst = bench_data;
    uint64_t count = SEQ_REQUEST / 8;
    __asm__ volatile("rep stosq" : "+D"(dst), "+c"(count) : "a"(0x5a5a5a5aa5a5a5a5ULL) : "memory");
}

/* Runs one block test: `ops` requests of `bytes`, sequential (wrapping inside the capacity) or
 * at LCG-chosen aligned offsets. Prints the bench line; returns 0 or -1. */
static int blk_test(struct vdev *d, const char *name, uint32_t type, int random, uint32_t bytes,
                    uint64_t ops, uint64_t capacity) {
    uint64_t per = bytes / SECTOR;
    uint64_t slots = capacity / per;
    if (slots == 0) {
        bench_prefix(name);
        probe_puts("skipped: the disk is smaller than one request\n");
        return -1;
    }
    if (type == VIRTIO_BLK_T_OUT) {
        fill_pattern();
    }
    lcg_state = vp_opt.bench_seed;
    uint64_t t0 = vp_rdtsc();
    uint64_t done = 0;
    for (; done < ops; done++) {
        uint64_t slot = random ? lcg_next() % slots : done % slots;
        int st = blk_io(d, type, slot * per, bytes);
        if (st != 0) {
            bench_prefix(name);
            probe_puts("failed: request ");
            vp_dec64(done);
            probe_puts(st < 0 ? " did not complete\n" : " returned a non-OK status\n");
            return -1;
        }
    }
    uint64_t t1 = vp_rdtsc();
    /* Writes: a FLUSH after the timed part, timed on its own, so what was written is on the
     * host's disk (cache=writeback on both VMMs) without the flush weighing on the per-request
     * figure. */
    uint64_t flush_cycles = 0;
    int flushed = 0;
    if (type == VIRTIO_BLK_T_OUT && (d->accepted & VIRTIO_BLK_F_FLUSH)) {
        uint64_t f0 = vp_rdtsc();
        bench_header.type = VIRTIO_BLK_T_FLUSH;
        bench_header.reserved = 0;
        bench_header.sector = 0;
        bench_status = 0xff;
        struct vbuf fb[2] = {{&bench_header, sizeof bench_header, 0}, {&bench_status, 1, 1}};
        if (bench_transfer(d, fb, 2) != 0 || bench_status != 0) {
            bench_prefix(name);
            probe_puts("failed: the closing FLUSH\n");
            return -1;
        }
        flush_cycles = vp_rdtsc() - f0;
        flushed = 1;
    }
    bench_prefix(name);
    probe_puts("bytes=");
    vp_dec64(done * bytes);
    probe_puts(" ns=");
    vp_dec64(cycles_to_ns(t1 - t0));
    probe_puts(" ops=");
    vp_dec64(done);
    probe_puts(" req_bytes=");
    probe_dec(bytes);
    probe_puts(" segs=");
    probe_dec((bytes + segment_bytes - 1) / segment_bytes);
    probe_puts(" cycles=");
    vp_dec64(t1 - t0);
    if (flushed) {
        probe_puts(" flush_ns=");
        vp_dec64(cycles_to_ns(flush_cycles));
    }
    probe_putc('\n');
    return 0;
}

int virtio_blk_bench(struct vdev *d) {
    uint32_t tests = vp_opt.bench & BENCH_BLK;
    bench_ran |= tests;
    if (tsc_hz == 0) {
        probe_puts("bench blk skipped: no TSC calibration\n");
        return -1;
    }
    uint64_t capacity;
    if (virtio_cfg_read(d, 0, 8, &capacity) != 0) {
        virtio_error(d, "no device configuration with the capacity field (§5.2.4)");
        return -1;
    }
    if (blk_segments(d) != 0) {
        return -1;
    }
    int read_only = (d->accepted & VIRTIO_BLK_F_RO) != 0;
    probe_puts("bench blk capacity=");
    vp_dec64(capacity);
    probe_puts(" queue=");
    probe_dec(d->q[0].size);
    probe_puts(" segment_bytes=");
    probe_dec(segment_bytes);
    probe_puts(read_only ? " ro=1\n" : " ro=0\n");

    int failed = 0;
    uint64_t seq_ops = vp_opt.bench_seq_mib;
    uint64_t rand_ops = vp_opt.bench_rand_ops;
    if (tests & BENCH_BLK_SEQ_READ) {
        failed |= blk_test(d, "blk-seq-read", VIRTIO_BLK_T_IN, 0, SEQ_REQUEST, seq_ops, capacity);
    }
    if (tests & (BENCH_BLK_SEQ_WRITE | BENCH_BLK_RAND_WRITE) && read_only) {
        probe_puts("bench blk-write skipped: the device is read-only (VIRTIO_BLK_F_RO)\n");
        failed = 1;
        tests &= ~(BENCH_BLK_SEQ_WRITE | BENCH_BLK_RAND_WRITE);
    }
    if (tests & BENCH_BLK_SEQ_WRITE) {
        failed |= blk_test(d, "blk-seq-write", VIRTIO_BLK_T_OUT, 0, SEQ_REQUEST, seq_ops, capacity);
    }
    if (tests & BENCH_BLK_RAND_READ) {
        failed |= blk_test(d, "blk-rand-read", VIRTIO_BLK_T_IN, 1, RAND_REQUEST, rand_ops, capacity);
    }
    if (tests & BENCH_BLK_RAND_WRITE) {
        failed |= blk_test(d, "blk-rand-write", VIRTIO_BLK_T_OUT, 1, RAND_REQUEST, rand_ops, capacity);
    }
    return failed ? -1 : 0;
}

/* ---- network (§5.1) ---- */

#define VIRTIO_NET_F_MAC (1ULL << 5)
#define NET_HDR 12          /* struct virtio_net_hdr with num_buffers (VERSION_1, §5.1.6) */
/* 0x88b5: IEEE 802 Local Experimental EtherType 1; a host stack drops it unread. */
#define BENCH_ETHERTYPE 0x88b5

static uint8_t bench_frame[NET_HDR + 1514] __attribute__((aligned(16)));
static uint16_t free_desc[VQ_BENCH_MAX_SIZE];

/* Sends vp_opt.bench_frames frames of `frame_len` bytes, keeping the transmit queue as full as
 * it goes: every free descriptor gets a frame, one notification per refill, completions
 * reclaimed from the used ring (in whatever order the device returns them). Every descriptor
 * points at the same read-only buffer. */
static int net_test(struct vdev *d, uint32_t frame_len) {
    struct vq *tx = &d->q[1];
    uint32_t nfree = 0;
    for (uint16_t i = 0; i < tx->size; i++) {
        free_desc[nfree++] = i;
    }
    bench_frame[NET_HDR + 12] = (uint8_t)(BENCH_ETHERTYPE >> 8);
    bench_frame[NET_HDR + 13] = (uint8_t)BENCH_ETHERTYPE;
    uint64_t frames = vp_opt.bench_frames;
    uint64_t submitted = 0;
    uint64_t completed = 0;
    uint64_t notifies = 0;
    struct vp_wait w;
    vp_wait_start(&w, vp_opt.timeout);
    uint64_t t0 = vp_rdtsc();
    while (completed < frames) {
        int added = 0;
        while (nfree > 0 && submitted < frames) {
            uint16_t at = free_desc[--nfree];
            tx->desc[at].addr = (uint64_t)(uintptr_t)bench_frame;
            tx->desc[at].len = NET_HDR + frame_len;
            tx->desc[at].flags = 0;
            tx->desc[at].next = 0;
            vq_repost(tx, at);
            submitted++;
            added = 1;
        }
        if (added) {
            vq_notify(tx);
            notifies++;
        }
        uint32_t id;
        uint32_t len;
        int r = vq_poll(d, tx, &id, &len);
        if (r < 0) {
            return -1;
        }
        if (r > 0) {
            if (nfree == tx->size || completed == submitted) {
                virtio_error(d, "the transmit queue returned more frames than were in flight");
                return -1;
            }
            free_desc[nfree++] = (uint16_t)id;
            completed++;
            /* Progress: the timeout starts over, without an RTC read (two VM exits) per frame;
             * the seconds already seen stay the reference. */
            w.polls = 0;
            w.ticks = 0;
            continue;
        }
        if ((w.polls & 0xffff) == 0xffff && (virtio_status(d) & VS_DEVICE_NEEDS_RESET)) {
            virtio_error(d, "the device set DEVICE_NEEDS_RESET during net-tx");
            return -1;
        }
        vp_pause();
        if (vp_wait_over(&w)) {
            probe_puts("bench net-tx failed: no frame completed for ");
            probe_dec(vp_opt.timeout);
            probe_puts(" s after ");
            vp_dec64(completed);
            probe_puts(" frames\n");
            return -1;
        }
    }
    uint64_t t1 = vp_rdtsc();
    probe_puts("bench net-tx frame_len=");
    probe_dec(frame_len);
    probe_puts(" bytes=");
    vp_dec64(completed * frame_len);
    probe_puts(" ns=");
    vp_dec64(cycles_to_ns(t1 - t0));
    probe_puts(" ops=");
    vp_dec64(completed);
    probe_puts(" queue=");
    probe_dec(tx->size);
    probe_puts(" notifies=");
    vp_dec64(notifies);
    probe_puts(" cycles=");
    vp_dec64(t1 - t0);
    probe_putc('\n');
    return 0;
}

int virtio_net_bench(struct vdev *d) {
    bench_ran |= BENCH_NET_TX;
    if (tsc_hz == 0) {
        probe_puts("bench net skipped: no TSC calibration\n");
        return -1;
    }
    /* Broadcast destination, our MAC (or a locally administered one, §5.1.4.2) as the source. */
    memset(bench_frame, 0, sizeof bench_frame);
    memset(bench_frame + NET_HDR, 0xff, 6);
    static const uint8_t local[6] = {0x02, 0, 0, 0, 0, 0x01};
    for (uint32_t i = 0; i < 6; i++) {
        uint64_t v = local[i];
        if ((d->accepted & VIRTIO_NET_F_MAC) && virtio_cfg_read(d, i, 1, &v) != 0) {
            virtio_error(d, "VIRTIO_NET_F_MAC without a mac field in the configuration");
            return -1;
        }
        bench_frame[NET_HDR + 6 + i] = (uint8_t)v;
    }
    probe_puts("bench net mac=");
    vp_mac(bench_frame + NET_HDR + 6);
    probe_puts(" queue=");
    probe_dec(d->q[1].size);
    probe_putc('\n');
    /* No receive buffers are posted: frames for us are the device's to drop (§5.1.6.3). */
    int failed = 0;
    for (uint32_t i = 0; i < vp_opt.bench_nframe_lens; i++) {
        if (net_test(d, vp_opt.bench_frame_lens[i]) != 0) {
            failed = 1;
            break;
        }
    }
    return failed ? -1 : 0;
}

void vp_bench_missing(void) {
    static const struct { uint32_t bit; const char *line; } TESTS[] = {
        {BENCH_BLK, "bench blk skipped: no virtio-blk device\n"},
        {BENCH_NET_TX, "bench net-tx skipped: no virtio-net device\n"},
    };
    for (uint32_t i = 0; i < 2; i++) {
        if ((vp_opt.bench & TESTS[i].bit) && !(bench_ran & TESTS[i].bit)) {
            probe_puts(TESTS[i].line);
        }
    }
}
