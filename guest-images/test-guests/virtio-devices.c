/*
 * What virtio-probe does with each device type once virtio_setup has brought it to DRIVER_OK.
 * One request at a time, waited for by polling; every buffer is static, and reused only after
 * its request completed or the device was reset.
 */
#include "virtio-probe.h"

#define HEAD_BYTES 16

static uint64_t addr_of(const volatile void *p) {
    return (uint64_t)(uintptr_t)p;
}

/* ---- block (§5.2) ---- */

#define VIRTIO_BLK_F_RO (1ULL << 5)
#define VIRTIO_BLK_F_FLUSH (1ULL << 9)
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_ID_BYTES 20
#define SECTOR 512

/* struct virtio_blk_req (§5.2.6): le32 type, le32 reserved, le64 sector, then data, then the
 * device-written status byte. */
static struct {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
} blk_header __attribute__((aligned(16)));
static volatile uint8_t blk_status;
static uint8_t blk_data[SECTOR] __attribute__((aligned(SECTOR)));

/* Returns the status byte the device wrote (0 OK, 1 IOERR, 2 UNSUPP), or -1 on a transport error. */
static int blk_request(struct vdev *d, uint32_t type, uint64_t sector, uint32_t len, int device_writes) {
    blk_header.type = type;
    blk_header.reserved = 0;
    blk_header.sector = sector;
    blk_status = 0xff; /* not a status the device may write: shows whether it wrote one */
    struct vbuf b[3];
    int n = 0;
    b[n++] = (struct vbuf){&blk_header, sizeof blk_header, 0};
    if (len != 0) {
        b[n++] = (struct vbuf){blk_data, len, device_writes};
    }
    b[n++] = (struct vbuf){&blk_status, 1, 1};
    uint32_t used;
    if (vq_transfer(d, &d->q[0], b, n, &used) != 0) {
        return -1;
    }
    return blk_status;
}

static void blk_status_line(const char *what, uint64_t sector, int status, int with_data) {
    probe_puts("blk ");
    probe_puts(what);
    probe_puts(" sector=");
    vp_dec64(sector);
    probe_puts(" status=");
    probe_dec((uint32_t)status);
    if (with_data && status == 0) {
        probe_puts(" sum32=");
        probe_hex32(probe_sum32(addr_of(blk_data), SECTOR));
        probe_head(addr_of(blk_data), SECTOR, HEAD_BYTES);
    }
    probe_putc('\n');
}

int virtio_blk(struct vdev *d) {
    uint64_t capacity;
    if (virtio_cfg_read(d, 0, 8, &capacity) != 0) {
        virtio_error(d, "no device configuration with the capacity field (§5.2.4)");
        return -1;
    }
    int read_only = (d->accepted & VIRTIO_BLK_F_RO) != 0;
    int flush = (d->accepted & VIRTIO_BLK_F_FLUSH) != 0;
    probe_puts("blk capacity=");
    vp_dec64(capacity);
    probe_puts(read_only ? " ro=1" : " ro=0");
    probe_puts(flush ? " flush=1\n" : " flush=0\n");
    int failed = 0;

    uint32_t n = vp_opt.blk_read;
    if (n > capacity) {
        n = (uint32_t)capacity;
    }
    for (uint32_t s = 0; s < n; s++) {
        memset(blk_data, 0, SECTOR);
        int st = blk_request(d, VIRTIO_BLK_T_IN, s, SECTOR, 1);
        if (st < 0) {
            return -1;
        }
        blk_status_line("read", s, st, 1);
        failed |= st != 0;
    }

    if (!vp_opt.blk_write) {
        probe_puts("blk write skipped: no vprobe.blk_write\n");
    } else if (read_only) {
        probe_puts("blk write skipped: the device is read-only (VIRTIO_BLK_F_RO)\n");
    } else if (vp_opt.blk_write_sector >= capacity) {
        probe_puts("blk write skipped: sector ");
        vp_dec64(vp_opt.blk_write_sector);
        probe_puts(" is beyond the capacity\n");
        failed = 1;
    } else {
        uint64_t s = vp_opt.blk_write_sector;
        memset(blk_data, vp_opt.blk_write_byte, SECTOR);
        int st = blk_request(d, VIRTIO_BLK_T_OUT, s, SECTOR, 0);
        if (st < 0) {
            return -1;
        }
        blk_status_line("write", s, st, 0);
        failed |= st != 0;
        /* Read it back through the device: what the test then finds in the image file must match. */
        memset(blk_data, 0, SECTOR);
        st = blk_request(d, VIRTIO_BLK_T_IN, s, SECTOR, 1);
        if (st < 0) {
            return -1;
        }
        blk_status_line("readback", s, st, 1);
        failed |= st != 0;
    }

    if (flush) {
        /* §5.2.6: a flush carries no data; the sector field is 0. */
        int st = blk_request(d, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
        if (st < 0) {
            return -1;
        }
        probe_puts("blk flush status=");
        probe_dec((uint32_t)st);
        probe_putc('\n');
        failed |= st != 0;
    } else {
        probe_puts("blk flush skipped: VIRTIO_BLK_F_FLUSH not offered\n");
    }

    /* §5.2.6: GET_ID fills 20 bytes, the serial, NUL-padded (no NUL when it is 20 long). */
    memset(blk_data, 0, SECTOR);
    int st = blk_request(d, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, 1);
    if (st < 0) {
        return -1;
    }
    probe_puts("blk id status=");
    probe_dec((uint32_t)st);
    probe_puts(" serial=");
    vp_quoted(blk_data, st == 0 ? VIRTIO_BLK_ID_BYTES : 0);
    probe_putc('\n');
    failed |= st != 0;
    return failed ? -1 : 0;
}

/* ---- network (§5.1) ---- */

#define VIRTIO_NET_F_MAC (1ULL << 5)
/* struct virtio_net_hdr with num_buffers, which VERSION_1 always has (§5.1.6). */
#define NET_HDR 12
#define ETH_HEADER 14
#define ETH_MIN_FRAME 60   /* without the FCS, which the device adds (IEEE 802.3 §3.2.8) */
#define ETH_MAX_FRAME 1514
/* Without VIRTIO_NET_F_MRG_RXBUF or a GUEST_TSO/UFO feature, each receive buffer must hold at
 * least 1526 bytes, header included (§5.1.6.3.1); 2048 leaves room. */
#define RX_BUFFERS 4
#define RX_BUFFER_SIZE 2048
#define RX_IGNORED_PRINTED 16

static uint8_t net_tx_buf[NET_HDR + ETH_MAX_FRAME] __attribute__((aligned(16)));
static uint8_t net_rx_buf[RX_BUFFERS][RX_BUFFER_SIZE] __attribute__((aligned(16)));

static uint16_t be16(const volatile uint8_t *p) {
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Waits up to vprobe.net_rx_timeout seconds for a frame of vprobe.net_rx_type, reposting the others. */
static int net_receive(struct vdev *d, const int heads[RX_BUFFERS]) {
    struct vq *rx = &d->q[0];
    uint32_t ignored = 0;
    probe_puts("net rx waiting timeout=");
    probe_dec(vp_opt.net_rx_timeout);
    probe_puts(" type=");
    vp_hex16(vp_opt.net_rx_type);
    probe_putc('\n');
    struct vp_wait w;
    vp_wait_start(&w, vp_opt.net_rx_timeout);
    do {
        uint32_t id;
        uint32_t len;
        int r = vq_poll(d, rx, &id, &len);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            if ((w.polls & 0xffff) == 0xffff && (virtio_status(d) & VS_DEVICE_NEEDS_RESET)) {
                virtio_error(d, "the device set DEVICE_NEEDS_RESET while we waited for a frame");
                return -1;
            }
            vp_pause();
            continue;
        }
        int buffer = -1;
        for (int b = 0; b < RX_BUFFERS; b++) {
            if (heads[b] == (int)id) {
                buffer = b;
            }
        }
        if (buffer < 0 || len > RX_BUFFER_SIZE) {
            virtio_error(d, "the receive queue returned a chain or length we did not post");
            return -1;
        }
        const uint8_t *frame = net_rx_buf[buffer] + NET_HDR;
        uint32_t frame_len = len >= NET_HDR ? len - NET_HDR : 0;
        uint16_t type = frame_len >= ETH_HEADER ? be16(frame + 12) : 0;
        if (frame_len < ETH_HEADER || (vp_opt.net_rx_type != 0 && type != vp_opt.net_rx_type)) {
            /* Not ours (a host's IPv6 router solicitation on a TAP, say): count it, give the
             * buffer back and go on waiting. */
            if (ignored++ < RX_IGNORED_PRINTED) {
                probe_puts("net rx ignored len=");
                probe_dec(frame_len);
                probe_puts(" type=");
                vp_hex16(type);
                probe_putc('\n');
            }
            vq_repost(rx, (uint16_t)id);
            vq_notify(rx);
            continue;
        }
        probe_puts("net rx len=");
        probe_dec(frame_len);
        probe_puts(" dst=");
        vp_mac(frame);
        probe_puts(" src=");
        vp_mac(frame + 6);
        probe_puts(" type=");
        vp_hex16(type);
        probe_puts(" polls=");
        probe_dec(w.polls + 1);
        probe_puts(" sum32=");
        probe_hex32(probe_sum32(addr_of(frame), frame_len));
        probe_head(addr_of(frame), frame_len, HEAD_BYTES);
        probe_puts(" payload=");
        vp_quoted(frame + ETH_HEADER, frame_len - ETH_HEADER < 64 ? frame_len - ETH_HEADER : 64);
        probe_putc('\n');
        /* The same bytes in hex, for binary payloads (the quoted form stops at the first NUL). */
        probe_puts("net rx payload_hex=");
        vp_hexbytes(frame + ETH_HEADER, frame_len - ETH_HEADER < 64 ? frame_len - ETH_HEADER : 64);
        probe_putc('\n');
        return 0;
    } while (!vp_wait_over(&w));
    probe_puts("net rx timeout seconds=");
    probe_dec(vp_opt.net_rx_timeout);
    probe_puts(" polls=");
    probe_dec(w.polls);
    probe_puts(" ignored=");
    probe_dec(ignored);
    probe_putc('\n');
    return -1;
}

int virtio_net(struct vdev *d) {
    uint8_t mac[6];
    probe_puts("net mac=");
    if (d->accepted & VIRTIO_NET_F_MAC) {
        for (uint32_t i = 0; i < 6; i++) {
            uint64_t v;
            if (virtio_cfg_read(d, i, 1, &v) != 0) {
                probe_putc('\n');
                virtio_error(d, "VIRTIO_NET_F_MAC without a mac field in the configuration");
                return -1;
            }
            mac[i] = (uint8_t)v;
        }
        vp_mac(mac);
        probe_putc('\n');
    } else {
        /* §5.1.4.2: without F_MAC the driver picks a locally administered address. */
        static const uint8_t local[6] = {0x02, 0, 0, 0, 0, 0x01};
        memcpy(mac, local, 6);
        vp_mac(mac);
        probe_puts(" (VIRTIO_NET_F_MAC not offered: a locally administered address)\n");
    }

    /* Receive buffers first, so a reply to our frame finds room (§5.1.6.3). */
    struct vq *rx = &d->q[0];
    int heads[RX_BUFFERS];
    for (int b = 0; b < RX_BUFFERS; b++) {
        struct vbuf buf = {net_rx_buf[b], RX_BUFFER_SIZE, 1};
        heads[b] = vq_add(d, rx, &buf, 1);
        if (heads[b] < 0) {
            return -1;
        }
    }
    vq_notify(rx);

    /* One frame: zeroed virtio_net_hdr (no checksum offload, GSO_NONE), then Ethernet II. */
    uint8_t *frame = net_tx_buf + NET_HDR;
    memset(net_tx_buf, 0, sizeof net_tx_buf);
    memcpy(frame, vp_opt.net_dst, 6);
    memcpy(frame + 6, mac, 6);
    frame[12] = (uint8_t)(vp_opt.net_type >> 8);
    frame[13] = (uint8_t)vp_opt.net_type;
    uint32_t payload = vp_opt.net_tx_len;
    if (payload > ETH_MAX_FRAME - ETH_HEADER) {
        payload = ETH_MAX_FRAME - ETH_HEADER;
    }
    memcpy(frame + ETH_HEADER, vp_opt.net_tx, payload);
    uint32_t frame_len = ETH_HEADER + payload;
    if (frame_len < ETH_MIN_FRAME) {
        frame_len = ETH_MIN_FRAME; /* zero padding, already there */
    }
    struct vbuf tx = {net_tx_buf, NET_HDR + frame_len, 0};
    uint32_t used;
    if (vq_transfer(d, &d->q[1], &tx, 1, &used) != 0) {
        return -1;
    }
    probe_puts("net tx len=");
    probe_dec(frame_len);
    probe_puts(" dst=");
    vp_mac(frame);
    probe_puts(" src=");
    vp_mac(frame + 6);
    probe_puts(" type=");
    vp_hex16(vp_opt.net_type);
    probe_puts(" sum32=");
    probe_hex32(probe_sum32(addr_of(frame), frame_len));
    probe_putc('\n');

    if (vp_opt.net_rx_timeout == 0) {
        probe_puts("net rx skipped: vprobe.net_rx_timeout=0\n");
        return 0;
    }
    return net_receive(d, heads);
}

/* ---- console (§5.3): port 0's transmitq is queue 1 without VIRTIO_CONSOLE_F_MULTIPORT ---- */

static const char HVC_LINE[] = "RISTRETTO-HVC hello\n";

int virtio_console(struct vdev *d) {
    static uint8_t line[sizeof HVC_LINE];
    memcpy(line, HVC_LINE, sizeof HVC_LINE);
    struct vbuf b = {line, sizeof HVC_LINE - 1, 0};
    uint32_t used;
    if (vq_transfer(d, &d->q[1], &b, 1, &used) != 0) {
        return -1;
    }
    probe_puts("console tx len=");
    probe_dec(sizeof HVC_LINE - 1);
    probe_puts(" text=");
    vp_quoted(line, sizeof HVC_LINE - 1);
    probe_putc('\n');
    return 0;
}

/* ---- entropy (§5.4) ---- */

#define RNG_BYTES 64

int virtio_rng(struct vdev *d) {
    static uint8_t entropy[RNG_BYTES];
    memset(entropy, 0, sizeof entropy);
    struct vbuf b = {entropy, RNG_BYTES, 1};
    uint32_t len;
    if (vq_transfer(d, &d->q[0], &b, 1, &len) != 0) {
        return -1;
    }
    /* §5.4.6.1: one or more bytes, at most the buffer. */
    if (len == 0 || len > RNG_BYTES) {
        virtio_line(d);
        probe_puts("error: the device returned ");
        probe_dec(len);
        probe_puts(" random bytes for a 64-byte buffer\n");
        return -1;
    }
    probe_puts("rng len=");
    probe_dec(len);
    probe_puts(" data=");
    vp_hexbytes(entropy, len);
    probe_putc('\n');
    return 0;
}
