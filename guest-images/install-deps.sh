#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (guest-image recipes, the nested-KVM harness,
# the ACPI and test-guest tests), and only
# those that are missing. Idempotent: a second run installs nothing and says so.
#
#   qemu-system-x86  qemu-system-x86_64: runs L1 under TCG and L2 under L1's KVM (virtio-9p built in)
#   busybox-static   the only userland in the initramfs images (static: no libraries to copy)
#   kmod             depmod / modprobe --show-depends to resolve kernel module dependencies
#   cpio, gzip       pack the newc initramfs images
#   apt, dpkg        fetch-debian-kernel.sh: apt-get download + dpkg-deb -x of Debian's kernels
#   xz-utils, lz4    fetch-debian-kernel.sh: unpack vmlinux from the generic (XZ) and cloud (LZ4) bzImages
#   coreutils        tail -F --pid, sha256sum, mktemp, date +%N
#   acpica-tools     iasl: the ACPI tests disassemble the tables we generate with it
#   gcc, binutils    the freestanding test guests and the C side of the benchmarks
#   passt            --net user (user-mode networking) and its test: DHCP answered by passt
#   iproute2         ip: the TAP device and network namespace of the virtio tests, L1's links
#   python3          the packet peer on the far side of that TAP (test-guests/packet-peer.py)
#   procps           kill(1): the signal tests stop Ristretto the way a user or supervisor would
#   maven            (only when no mvn is on the PATH) the build and test runner
#
# Exit status: 0 when everything is present afterwards; 1 when something is missing and this
# script is not running as root (it says what to run); 2 when apt-get fails.
set -euo pipefail

packages=(qemu-system-x86 busybox-static kmod cpio gzip xz-utils lz4 apt dpkg coreutils acpica-tools gcc binutils passt
  iproute2 python3 procps)
# Maven builds and runs everything; take Debian's only where none is on the PATH (it may come
# from elsewhere, and Debian's pulls in a Java 17 runtime we do not use: run-tests picks JDK 25).
command -v mvn >/dev/null || packages+=(maven)

installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps.sh: all present (${packages[*]}); nothing to do"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: missing packages: ${missing[*]}; run as root: sudo $0" >&2
  exit 1
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The package lists on a fresh machine (CI) may be empty or stale; refresh them once.
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  echo "install-deps.sh: first attempt failed; refreshing the package lists with apt-get update"
  apt-get update -q || { echo "install-deps.sh: apt-get update failed (is the Debian archive reachable?)" >&2; exit 2; }
  apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    { echo "install-deps.sh: apt-get install ${missing[*]} failed" >&2; exit 2; }
fi

still=()
for p in "${missing[@]}"; do installed "$p" || still+=("$p"); done
if [ ${#still[@]} -gt 0 ]; then
  echo "install-deps.sh: still missing after apt-get: ${still[*]}" >&2
  exit 2
fi
echo "install-deps.sh: installed ${missing[*]}"
