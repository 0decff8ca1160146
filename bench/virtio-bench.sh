#!/usr/bin/env bash
# Issue #5 figures: virtio-blk and virtio-net throughput of Ristretto next to QEMU, both running
# the same freestanding test guest (virtio-probe in benchmark mode, README of
# guest-images/test-guests, "Benchmark mode") on the same disk image and the same kind of TAP
# device, on this host's /dev/kvm, in alternating order, ROUNDS times each.
#
# Usage: sudo bench/virtio-bench.sh [rounds]          (default 3)
# Environment (all optional):
#   SEQ_MIB=128      MiB moved by each sequential test (1 MiB requests)
#   RAND_OPS=4096    4 KiB requests of each random test
#   FRAMES=20000     frames per frame length in net-tx
#   FRAME_LENS=60:1514  Ethernet frame lengths without FCS (60 = 64 bytes on the wire)
#   QEMU=qemu-system-x86_64
#
# Needs root (it creates a network namespace with a TAP device, which both VMMs then open:
# the same backend for both, and nothing leaves the namespace), /dev/kvm, gcc/binutils, python3
# and QEMU (guest-images/install-deps.sh installs it). Prints every figure for both VMMs, each
# round, the median, and the ratio Ristretto/QEMU of the medians (> 1: Ristretto is faster).
# Serial logs stay in bench/target/virtio-bench/. A benchmark, not a test: it fails only when a
# run does not produce its figures.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${1:-3}
SEQ_MIB=${SEQ_MIB:-128}
RAND_OPS=${RAND_OPS:-4096}
FRAMES=${FRAMES:-20000}
FRAME_LENS=${FRAME_LENS:-60:1514}
QEMU=${QEMU:-qemu-system-x86_64}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}

die() { echo "virtio-bench.sh: $*" >&2; exit 1; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "rounds must be a positive number, not '$rounds'"
[ "$(id -u)" -eq 0 ] || die "needs root to create a network namespace and a TAP device; run it with sudo"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || die "/dev/kvm is missing or not accessible"
command -v "$QEMU" >/dev/null || die "$QEMU not found; run guest-images/install-deps.sh (package qemu-system-x86)"
command -v python3 >/dev/null || die "python3 not found; apt-get install python3"

out="$root/bench/target/virtio-bench"
mkdir -p "$out"
probe=$("$root/guest-images/test-guests/build.sh" "$out/guests" | sed -n 3p)

# A 256 MiB raw image with no holes: every 4 KiB block holds data (a pattern that differs per
# MiB), so a read costs a real copy on both VMMs instead of the kernel's zero page for a hole.
img="$out/disk.img"
python3 - "$img" <<'PY'
import sys
with open(sys.argv[1], 'wb') as f:
    for mib in range(256):
        f.write(bytes((i * 7 + mib) & 0xff for i in range(4096)) * 256)
PY

# The network: a TAP device in a namespace of its own, up, with IPv6 off (so the kernel sends
# no router solicitations at the guest). Ristretto opens it with --net tap=NAME, QEMU with
# -netdev tap,ifname=NAME; the frames (broadcast, ethertype 0x88b5) are dropped by the
# namespace's stack. passt (--net user) was not chosen: QEMU 7.2 reaches passt only through
# qrap or -netdev stream, and passt's own per-frame work would dominate both figures.
ns="vbench$$"
tap=vbtap0
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" tuntap add dev "$tap" mode tap
ip -n "$ns" link set "$tap" up
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1

append="vprobe.bench=blk-seq-read,blk-seq-write,blk-rand-read,blk-rand-write,net-tx"
append+=" vprobe.bench_seq_mib=$SEQ_MIB vprobe.bench_rand_ops=$RAND_OPS"
append+=" vprobe.bench_frames=$FRAMES vprobe.bench_frame_lens=$FRAME_LENS vprobe.timeout=30"

# Build Ristretto once, outside the timed runs (the launcher builds on first use).
"$root/ristretto" --version >/dev/null

run_ristretto() {  # $1 = serial log
  ip netns exec "$ns" timeout 900 "$root/ristretto" run -m 256M --rng off \
    --serial "file:$1" --kernel "$probe" --append "$append" \
    --disk "$img,cache=writeback" --net "tap=$tap" >"$1.out" 2>&1
}
run_qemu() {  # $1 = serial log
  # As -nographic, but with the serial port in a file and no monitor on stdio.
  ip netns exec "$ns" timeout 900 "$QEMU" -accel kvm -M q35 -m 256M -display none -monitor none \
    -no-reboot -serial "file:$1" -kernel "$probe" -append "$append" \
    -device virtio-blk-pci,drive=d0,disable-legacy=on \
    -drive "file=$img,if=none,id=d0,format=raw,cache=writeback" \
    -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
    -device virtio-net-pci,netdev=n0,disable-legacy=on >"$1.out" 2>&1
}

echo "host: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$("$QEMU" --version | head -1), $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "guest command line: $append"

results="$out/results.tsv"
: >"$results"
for r in $(seq 1 "$rounds"); do
  # Alternate which VMM goes first, so a drift in the host's load does not favour one of them.
  if [ $((r % 2)) -eq 1 ]; then order="ristretto qemu"; else order="qemu ristretto"; fi
  for vmm in $order; do
    log="$out/$vmm-$r.log"
    "run_$vmm" "$log" || die "$vmm round $r failed (exit $?); see $log and $log.out"
    grep -q '^VIRTIO-PROBE-DONE' "$log" || die "$vmm round $r: the probe did not finish; see $log"
    grep -q '^virtio devices=2 ok=2$' "$log" || die "$vmm round $r: a device did not end ok; see $log"
    # bench <name> [frame_len=N] bytes=B ns=T ops=O ...  ->  vmm round test bytes ns ops
    awk -v vmm="$vmm" -v r="$r" '$1 == "bench" && / bytes=/ {
        name = $2; f = ""
        for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        if ($3 ~ /^frame_len=/) name = name "-" v["frame_len"]
        print vmm "\t" r "\t" name "\t" v["bytes"] "\t" v["ns"] "\t" v["ops"]
      }' "$log" >>"$results"
    echo "round $r $vmm: done, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  done
done

python3 - "$results" "$rounds" <<'PY'
import statistics, sys
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.strip()]
rounds = int(sys.argv[2])
tests = []
data = {}
for vmm, r, test, b, ns, ops in rows:
    if test not in tests:
        tests.append(test)
    data.setdefault((vmm, test), []).append((int(b), int(ns), int(ops)))

def figures(test, b, ns, ops):
    s = ns / 1e9
    if test.startswith('blk-seq'):
        return [('MiB/s', b / s / 2**20)]
    if test.startswith('blk-rand'):
        return [('IOPS', ops / s), ('MiB/s', b / s / 2**20)]
    return [('frames/s', ops / s), ('MiB/s', b / s / 2**20)]

print()
print('| test | figure | Ristretto (rounds) | Ristretto median | QEMU (rounds) | QEMU median | Ristretto/QEMU |')
print('|---|---|---|---|---|---|---|')
for test in tests:
    per = {}
    for vmm in ('ristretto', 'qemu'):
        runs = data.get((vmm, test), [])
        if len(runs) != rounds:
            sys.exit(f'{test}: {vmm} produced {len(runs)} of {rounds} figures')
        per[vmm] = [figures(test, *x) for x in runs]
    for k, (unit, _) in enumerate(per['ristretto'][0]):
        vals = {vmm: [f[k][1] for f in per[vmm]] for vmm in per}
        med = {vmm: statistics.median(vals[vmm]) for vmm in vals}
        fmt = lambda xs: ' / '.join(f'{x:.0f}' if x >= 100 else f'{x:.1f}' for x in xs)
        m = lambda x: f'{x:.0f}' if x >= 100 else f'{x:.1f}'
        print(f"| {test} | {unit} | {fmt(vals['ristretto'])} | {m(med['ristretto'])} | "
              f"{fmt(vals['qemu'])} | {m(med['qemu'])} | {med['ristretto'] / med['qemu']:.2f} |")
PY
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); logs and results.tsv in $out"
