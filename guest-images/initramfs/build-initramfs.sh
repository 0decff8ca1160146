#!/usr/bin/env bash
# Builds the initramfs Ristretto's test guests (L2) boot with, and prints its path.
#
#   build-initramfs.sh [--kernel cloud|generic|DIR] [--module NAME]... [--modules "A B ..."]
#
# The image holds busybox-static and an /init that
#   1. mounts proc, sysfs and devtmpfs,
#   2. loads the kernel modules shipped in the image (if any were asked for), in dependency order,
#   3. prints   RISTRETTO-GUEST-UP kernel=<uname -r> cpus=<nproc>   on the console,
#   4. does what the kernel command line says: ristretto.action=poweroff (the default),
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

action=poweroff
for word in $(cat /proc/cmdline); do
  case "$word" in ristretto.action=*) action=${word#ristretto.action=} ;; esac
done
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
if [ ${#modules[@]} -gt 0 ]; then
  stage_modules "$tree" "$root" "${modules[@]}" || die 4 "cannot resolve modules '${modules[*]}' in $tree"
fi
pack_cpio "$root" "$work/image.cpio.gz"
mv "$work/image.cpio.gz" "$out"
echo "build-initramfs.sh: built $out (busybox-static $bb_version, kernel $kernel_version, modules: ${modules[*]:-none})" >&2
echo "$out"
