#!/usr/bin/env bash
# Builds the initramfs Ristretto's test guests (L2) boot with, and prints its path.
#
#   build-initramfs.sh [--kernel cloud|generic|DIR] [--module NAME]... [--modules "A B ..."]
#
# The image holds busybox-static and an /init that
#   1. mounts proc, sysfs and devtmpfs,
#   2. loads the kernel modules shipped in the image (if any were asked for), in dependency order,
#   3. prints   RISTRETTO-GUEST-UP kernel=<uname -r> cpus=<nproc>   on the console, and
#      RISTRETTO-GUEST-CPU flags=<the first CPU's /proc/cpuinfo flags, comma-separated>,
#   4. with ristretto.check=virtio on the kernel command line (and only then), exercises the virtio
#      devices through the kernel's drivers and prints RISTRETTO-CHECK lines (check_virtio_script),
#   5. does what the kernel command line says: ristretto.action=poweroff (the default),
#      ristretto.action=reboot or ristretto.action=shell.
#
# Modules (for example virtio_pci virtio_blk virtio_net virtio_console virtio_rng) come from a
# Debian kernel tree fetched by guest-images/fetch-debian-kernel.sh (default flavour: cloud, the
# kernel the boot tests use) or from DIR laid out the same way (vmlinuz, VERSION, lib/modules/).
# Their dependencies are resolved with `modprobe --show-depends -d <tree>`. The image only works
# with the kernel whose modules it carries; without modules it works with any x86-64 kernel that
# has devtmpfs and an initramfs-capable config (Debian's do).
#
# The result is cached under ${RISTRETTO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ristretto}/initramfs/
# keyed by this script, the shared library, the busybox-static version, the kernel version and
# the module list. Built from Debian packages and this script; nothing binary is committed.
#
# Exit status: 0 (path on stdout), 2 usage, 3 kernel package unreachable, 4 missing tools or
# unknown module (one line on stderr says which).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib/initramfs-lib.sh
source "$here/../lib/initramfs-lib.sh"

die() { local code=$1; shift; echo "build-initramfs.sh: $*" >&2; exit "$code"; }

kernel=cloud
modules=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) [ $# -ge 2 ] || die 2 "--kernel needs cloud, generic or a directory"; kernel=$2; shift 2 ;;
    --module) [ $# -ge 2 ] || die 2 "--module needs a module name"; modules+=("$2"); shift 2 ;;
    --modules) [ $# -ge 2 ] || die 2 "--modules needs a space-separated list"
      read -r -a more <<<"$2"; modules+=("${more[@]}"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die 2 "unknown argument '$1' (see --help)" ;;
  esac
done

for tool in cpio gzip sha256sum; do
  command -v "$tool" >/dev/null || die 4 "'$tool' is missing (run guest-images/install-deps.sh)"
done
bb_version=$(busybox_static_version)
[ -n "$bb_version" ] || die 4 "busybox-static is not installed (run guest-images/install-deps.sh)"

tree=""
kernel_version=none
if [ ${#modules[@]} -gt 0 ]; then
  command -v modprobe >/dev/null && command -v depmod >/dev/null ||
    die 4 "modprobe/depmod are missing (install kmod: run guest-images/install-deps.sh)"
  case "$kernel" in
    cloud|generic)
      tree=$("$here/../fetch-debian-kernel.sh" "$kernel") ||
        die 3 "cannot fetch Debian's $kernel kernel (see the message above)" ;;
    *) tree=$kernel ;;
  esac
  [ -s "$tree/VERSION" ] || die 2 "kernel tree '$tree' has no VERSION file (expected a fetch-debian-kernel.sh tree)"
  kernel_version=$(cat "$tree/VERSION")
fi

# The /init script. Written here (not as a separate file) so the script hash covers it.
init_script() {
  cat <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true

loaded=""
if [ -s /etc/modules.load ]; then
  while read -r ko; do
    if insmod "/lib/modules/$ko"; then
      loaded="$loaded${loaded:+,}${ko%.ko}"
    else
      echo "RISTRETTO-GUEST-MODULE-FAILED $ko"
    fi
  done </etc/modules.load
  echo "RISTRETTO-GUEST-MODULES $loaded"
fi

echo "RISTRETTO-GUEST-UP kernel=$(uname -r) cpus=$(nproc)"
echo "RISTRETTO-GUEST-CPU flags=$(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo | head -n 1 | tr ' ' ',')"

action=poweroff
check=""
for word in $(cat /proc/cmdline); do
  case "$word" in
    ristretto.action=*) action=${word#ristretto.action=} ;;
    ristretto.check=*) check=${word#ristretto.check=} ;;
  esac
done
case "$check" in
  "") ;;
  virtio) . /lib/ristretto/check-virtio.sh ;;
  *) echo "RISTRETTO-GUEST-BAD-CHECK ristretto.check=$check (the only check is virtio)" ;;
esac
case "$action" in
  reboot) reboot -f ;;
  poweroff) poweroff -f ;;
  shell)
    # cttyhack gives the shell the console as its controlling terminal, so ^C works.
    while true; do setsid cttyhack sh; done ;;
  *)
    echo "RISTRETTO-GUEST-BAD-ACTION ristretto.action=$action (use reboot, poweroff or shell); powering off"
    poweroff -f ;;
esac
# poweroff -f returns before the machine is off; PID 1 must not exit meanwhile (that panics).
while true; do sleep 1; done
INIT
}

# /lib/ristretto/check-virtio.sh, sourced by /init when the command line says ristretto.check=virtio:
# it exercises the virtio devices through Debian's own drivers and prints one machine-parseable
# line per fact, all starting with RISTRETTO-CHECK (the boot tests parse them):
#   RISTRETTO-CHECK virtio dev=virtioN id=0xNNNN driver=NAME|none   per /sys/bus/virtio/devices entry
#   RISTRETTO-CHECK blk dev=vda sectors=N serial=S                  /sys/block/vda/{size,serial}
#   RISTRETTO-CHECK blk-sum mib=N sha256=HEX                        of the first N MiB of /dev/vda
#   RISTRETTO-CHECK blk-write block=B sha256=HEX                    wrote the pattern at B*4096, fsync'd
#   RISTRETTO-CHECK blk-read block=B sha256=HEX first=LINE          read the 4 KiB at B*4096
#   RISTRETTO-CHECK net dev=eth0 mac=M addr=A peer=P transmitted=N received=N
#   RISTRETTO-CHECK dhcp ip=A mask=M router=R dns=D lease=S         from busybox udhcpc
#   RISTRETTO-CHECK fetch url=U bytes=N body=FIRST-LINE              an HTTP GET over the network
#   RISTRETTO-CHECK hvc0 wrote=N                                    after writing RISTRETTO-HVC0-SAYS-HELLO to /dev/hvc0
#   RISTRETTO-CHECK hwrng current=NAME hex=HEX                      64 bytes of /dev/hwrng
#   RISTRETTO-CHECK-FAIL what went wrong                            one per failed step
#   RISTRETTO-CHECK-DONE failures=N
# Its parameters, all optional, come from the kernel command line:
#   ristretto.blk.sum-mib=N  ristretto.blk.write=BLOCK  ristretto.blk.read=BLOCK
#   ristretto.net=static:ADDR/PREFIX:PEER (address eth0, ping PEER)  or  ristretto.net=dhcp
#   ristretto.fetch=URL (after the network is up: GET it with busybox wget, a TCP connection out)
# The disk, hvc0 and hwrng steps run only when the machine has that virtio device.
# The pattern block is 64 lines of 64 bytes: "RISTRETTO-PATTERN block=%08d line=%02d" padded with
# dots to 63 characters and a newline, so a block written to the wrong place or half-written shows.
check_virtio_script() {
  cat <<'CHECK'
# shellcheck shell=sh
failures=0
fail() { echo "RISTRETTO-CHECK-FAIL $*"; failures=$((failures + 1)); }

sum_mib="" write_block="" read_block="" net="" fetch=""
for word in $(cat /proc/cmdline); do
  case "$word" in
    ristretto.blk.sum-mib=*) sum_mib=${word#*=} ;;
    ristretto.blk.write=*) write_block=${word#*=} ;;
    ristretto.blk.read=*) read_block=${word#*=} ;;
    ristretto.net=*) net=${word#*=} ;;
    ristretto.fetch=*) fetch=${word#*=} ;;
  esac
done

# wait_for PATH: the drivers probe when insmod loads them, but block and misc device nodes are
# created by devtmpfs a moment later; give them up to 10 s.
wait_for() {
  i=0
  while [ ! -e "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  [ -e "$1" ]
}

# has_virtio ID: whether a virtio device with that device id (VIRTIO 1.2 section 5: 1 network,
# 2 block, 3 console, 4 entropy) is on the bus; devices the machine does not have are not checked.
has_virtio() {
  cat /sys/bus/virtio/devices/*/device 2>/dev/null | grep -q -x "$1"
}

pattern_block() {
  i=0
  while [ $i -lt 64 ]; do
    printf 'RISTRETTO-PATTERN block=%08d line=%02d.......................\n' "$1" "$i"
    i=$((i + 1))
  done
}

# Which driver each virtio device bound to (the device ids: VIRTIO 1.2 section 5).
for dev in /sys/bus/virtio/devices/*; do
  [ -e "$dev" ] || { fail "no virtio devices under /sys/bus/virtio/devices"; break; }
  driver=none
  [ -e "$dev/driver" ] && driver=$(basename "$(readlink "$dev/driver")")
  echo "RISTRETTO-CHECK virtio dev=$(basename "$dev") id=$(cat "$dev/device") driver=$driver"
done

if ! has_virtio 0x0002; then
  :
elif wait_for /sys/block/vda && wait_for /dev/vda; then
  serial=$(cat /sys/block/vda/serial 2>/dev/null) || serial=unreadable
  echo "RISTRETTO-CHECK blk dev=vda sectors=$(cat /sys/block/vda/size) serial=${serial:-empty}"
  if [ -n "$sum_mib" ]; then
    sum=$(dd if=/dev/vda bs=1048576 count="$sum_mib" 2>/dev/null | sha256sum | cut -d' ' -f1)
    echo "RISTRETTO-CHECK blk-sum mib=$sum_mib sha256=$sum"
  fi
  if [ -n "$read_block" ]; then
    sum=$(dd if=/dev/vda bs=4096 skip="$read_block" count=1 2>/dev/null | sha256sum | cut -d' ' -f1)
    first=$(dd if=/dev/vda bs=4096 skip="$read_block" count=1 2>/dev/null | head -c 63 | tr -c 'A-Za-z0-9=.-' '_')
    echo "RISTRETTO-CHECK blk-read block=$read_block sha256=$sum first=$first"
  fi
  if [ -n "$write_block" ]; then
    pattern_block "$write_block" >/tmp/pattern
    # conv=fsync ends with fsync(2) on the block device, which Linux turns into a virtio-blk
    # VIRTIO_BLK_T_FLUSH (VIRTIO 1.2 section 5.2.6): the pattern is on the image before we go on.
    if dd if=/tmp/pattern of=/dev/vda bs=4096 seek="$write_block" count=1 conv=fsync 2>/dev/null; then
      sync
      echo "RISTRETTO-CHECK blk-write block=$write_block sha256=$(sha256sum </tmp/pattern | cut -d' ' -f1)"
    else
      fail "writing block $write_block of /dev/vda"
    fi
  fi
else
  fail "no /dev/vda"
fi

case "$net" in
  "") ;;
  static:*)
    spec=${net#static:}
    addr=${spec%%:*}
    peer=${spec#*:}
    if wait_for /sys/class/net/eth0; then
      ip link set lo up
      ip link set eth0 up
      ip addr add "$addr" dev eth0
      stats=$(ping -c 3 -w 20 "$peer" 2>&1 | grep 'packets transmitted')
      tx=$(echo "$stats" | sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p')
      rx=$(echo "$stats" | sed -n 's/.*transmitted, \([0-9]*\) packets received.*/\1/p')
      echo "RISTRETTO-CHECK net dev=eth0 mac=$(cat /sys/class/net/eth0/address) addr=$addr peer=$peer transmitted=${tx:-0} received=${rx:-0}"
    else
      fail "no eth0"
    fi ;;
  dhcp)
    if wait_for /sys/class/net/eth0; then
      ip link set lo up
      ip link set eth0 up
      # -n: give up (status 1) without a lease; -q: exit once bound. The script prints the lease.
      udhcpc -i eth0 -n -q -t 5 -T 3 -s /lib/ristretto/udhcpc-report.sh || fail "udhcpc got no lease on eth0"
    else
      fail "no eth0"
    fi ;;
  *) fail "ristretto.net=$net is neither static:ADDR/PREFIX:PEER nor dhcp" ;;
esac

if [ -n "$fetch" ]; then
  # Bounded by timeout(1), not wget -T: busybox 1.35's wget segfaults with -T.
  if said=$(timeout 30 wget -q -O /tmp/fetched "$fetch" 2>&1); then
    echo "RISTRETTO-CHECK fetch url=$fetch bytes=$(wc -c </tmp/fetched) body=$(head -n 1 /tmp/fetched)"
  else
    fail "wget $fetch failed (status $?): $(echo "$said" | tr '\n' ' ')"
  fi
fi

if ! has_virtio 0x0003; then
  :
elif wait_for /dev/hvc0; then
  marker="RISTRETTO-HVC0-SAYS-HELLO"
  # hvc0 and ttyS0 reach the same host terminal; the UART sends its bytes one at a time while
  # the virtio console hands over a whole buffer, so a line still draining on ttyS0 would be cut
  # in two by the marker. Let ttyS0 drain first, and the marker land before the next line.
  sleep 1
  if echo "$marker" >/dev/hvc0; then
    sleep 1
    echo "RISTRETTO-CHECK hvc0 wrote=$(( ${#marker} + 1 ))"
  else
    fail "writing to /dev/hvc0"
  fi
else
  fail "no /dev/hvc0"
fi

if ! has_virtio 0x0004; then
  :
elif wait_for /dev/hwrng; then
  current=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
  # A broken device would block the read forever; 10 s is ample for 64 bytes.
  hex=$(timeout 10 head -c 64 /dev/hwrng | od -An -v -tx1 | tr -d ' \n')
  echo "RISTRETTO-CHECK hwrng current=${current:-unknown} hex=$hex"
  [ ${#hex} -eq 128 ] || fail "read ${#hex} hex digits from /dev/hwrng, not 128"
else
  fail "no /dev/hwrng"
fi

echo "RISTRETTO-CHECK-DONE failures=$failures"
CHECK
}

# busybox udhcpc's event script (udhcpc(8)): on "bound" it gets the lease in the environment.
udhcpc_script() {
  cat <<'DHCP'
#!/bin/busybox sh
case "$1" in
  bound|renew)
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -z "$router" ] || ip route add default via "${router%% *}" dev "$interface"
    echo "RISTRETTO-CHECK dhcp ip=$ip mask=${mask:-?} router=${router:-none} dns=$(echo ${dns:-none} | tr ' ' ',') lease=${lease:-?}" ;;
esac
DHCP
}

key=$( {
  sha256sum "$here/build-initramfs.sh" "$here/../lib/initramfs-lib.sh" | cut -d' ' -f1
  echo "busybox-static=$bb_version"
  echo "kernel=$kernel_version"
  echo "modules=${modules[*]:-}"
} | sha256sum | cut -c1-16)

cache=$(ristretto_cache_dir)/initramfs
out=$cache/guest-$key.cpio.gz
if [ -s "$out" ]; then
  echo "$out"
  exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
stage_busybox "$root" || die 4 "cannot stage busybox"
init_script >"$root/init"
chmod 0755 "$root/init"
mkdir -p "$root/lib/ristretto"
check_virtio_script >"$root/lib/ristretto/check-virtio.sh"
udhcpc_script >"$root/lib/ristretto/udhcpc-report.sh"
chmod 0755 "$root/lib/ristretto/udhcpc-report.sh"
if [ ${#modules[@]} -gt 0 ]; then
  stage_modules "$tree" "$root" "${modules[@]}" || die 4 "cannot resolve modules '${modules[*]}' in $tree"
fi
pack_cpio "$root" "$work/image.cpio.gz"
mv "$work/image.cpio.gz" "$out"
echo "build-initramfs.sh: built $out (busybox-static $bb_version, kernel $kernel_version, modules: ${modules[*]:-none})" >&2
echo "$out"
