#!/usr/bin/env bash
# Fetches one of Debian's kernel packages into Ristretto's cache (outside the repository) and
# prints the path of the unpacked tree. Usage: fetch-debian-kernel.sh [cloud|generic]
#   cloud   -> linux-image-cloud-amd64 (the kernel our boot tests use; X86_MPPARSE=n)
#   generic -> linux-image-amd64       (9p and kvm as modules; X86_MPPARSE=y)
# The cache is ${RISTRETTO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ristretto}/kernels/<flavour>/.
# Inside it: vmlinuz (the bzImage), lib/modules/<version>/, and VERSION.
# Exits 3 (and says why on stderr) when Debian's archive cannot be reached.
set -euo pipefail

flavour=${1:-cloud}
case "$flavour" in
  cloud) meta=linux-image-cloud-amd64 ;;
  generic) meta=linux-image-amd64 ;;
  *) echo "fetch-debian-kernel.sh: unknown flavour '$flavour' (use cloud or generic)" >&2; exit 2 ;;
esac

cache=${RISTRETTO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ristretto}
dest=$cache/kernels/$flavour
if [ -s "$dest/vmlinuz" ] && [ -s "$dest/VERSION" ]; then
  echo "$dest"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# The metapackage names the versioned image package; resolve it from the package lists.
pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
if [ -z "$pkg" ]; then
  $sudo apt-get update -qq >&2 || true
  pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
fi
if [ -z "$pkg" ]; then
  echo "fetch-debian-kernel.sh: cannot resolve $meta from the apt lists (is Debian's archive reachable?)" >&2
  exit 3
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && apt-get download "$pkg" >&2); then
  echo "fetch-debian-kernel.sh: apt-get download $pkg failed (is Debian's archive reachable?)" >&2
  exit 3
fi
dpkg-deb -x "$work"/"$pkg"_*.deb "$work/root"
version=${pkg#linux-image-}
mkdir -p "$dest.tmp"
rm -rf "$dest.tmp"/*
cp "$work/root/boot/vmlinuz-$version" "$dest.tmp/vmlinuz"
cp "$work/root/boot/config-$version" "$dest.tmp/config" 2>/dev/null || true
if [ -d "$work/root/lib/modules" ]; then
  mkdir -p "$dest.tmp/lib"
  cp -a "$work/root/lib/modules" "$dest.tmp/lib/"
fi
echo "$version" > "$dest.tmp/VERSION"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "$dest"
