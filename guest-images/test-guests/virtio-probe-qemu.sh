#!/usr/bin/env bash
# Runs virtio-probe under QEMU (TCG, no KVM needed) with one modern virtio-blk, virtio-net,
# virtio-console (virtconsole on virtio-serial-pci) and virtio-rng device: the cross-check of
# the probe, and of its documented output, against another VMM. Prints the probe's serial log,
# then the console port's output; exits 0 when the probe ended and all four devices ended "ok".
# Usage: virtio-probe-qemu.sh [extra kernel command-line words]
# Needs qemu-system-x86_64 (apt-get install qemu-system-x86) plus what build.sh needs.
# The network is a UDP socket pair: QEMU sends the guest's frames to 127.0.0.1:5555 and takes
# frames for the guest on 127.0.0.1:5556. Nothing answers by default, so the receive wait is off;
# pass vprobe.net_rx_timeout=N and run a peer on 127.0.0.1:5555 to check receiving too.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
  echo "virtio-probe-qemu.sh: qemu-system-x86_64 not found; apt-get install qemu-system-x86" >&2
  exit 3
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/build.sh" "$work" >/dev/null

# A 64-sector image whose byte i is (7i + i/512) mod 256, so each sector's sum32 differs.
python3 - "$work/disk.img" <<'PY'
import sys
open(sys.argv[1], 'wb').write(bytes((i * 7 + i // 512) & 0xff for i in range(64 * 512)))
PY

timeout 120 qemu-system-x86_64 -M q35 -accel tcg -m 128 -display none -monitor none -no-reboot \
  -serial "file:$work/serial.log" -kernel "$work/virtio-probe" \
  -append "vprobe.blk_read=4 vprobe.blk_write=7:0xa5 vprobe.net_rx_timeout=0 $*" \
  -drive "file=$work/disk.img,if=none,id=d0,format=raw" \
  -device virtio-blk-pci,drive=d0,disable-legacy=on,serial=RISTRETTO-SN1 \
  -netdev socket,id=n0,udp=127.0.0.1:5555,localaddr=127.0.0.1:5556 \
  -device virtio-net-pci,netdev=n0,disable-legacy=on,mac=52:54:00:12:34:56 \
  -device virtio-serial-pci,disable-legacy=on -chardev "file,id=c0,path=$work/hvc.log" \
  -device virtconsole,chardev=c0 \
  -object rng-random,id=r0,filename=/dev/urandom -device virtio-rng-pci,rng=r0,disable-legacy=on
cat "$work/serial.log"
echo "--- virtconsole:"
cat "$work/hvc.log"
grep -q '^virtio devices=4 ok=4$' "$work/serial.log" && grep -q '^VIRTIO-PROBE-DONE$' "$work/serial.log"
