#!/usr/bin/env bash
# Fetches one of Debian's kernel packages into Ristretto's cache (outside the repository) and
# prints the path of the unpacked tree. Usage: fetch-debian-kernel.sh [cloud|generic]
#   cloud   -> linux-image-cloud-amd64 (the kernel our boot tests use; X86_MPPARSE=n)
#   generic -> linux-image-amd64       (9p and kvm as modules; X86_MPPARSE=y)
# The cache is ${RISTRETTO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ristretto}/kernels/<flavour>/.
# Inside it: vmlinuz (the bzImage), vmlinux (the uncompressed ELF kernel inside it, for the ELF/PVH
# entry, which skips the decompressor: XZ decompression in an emulation-only KVM takes minutes),
# lib/modules/<version>/, and VERSION.
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
# The bzImage's payload is the compressed vmlinux ELF: it starts payload_offset bytes into the
# protected-mode code, which follows the (setup_sects + 1) * 512 bytes of real-mode setup, and is
# payload_length bytes long (Documentation/arch/x86/boot.rst, header fields at 0x1f1, 0x248 and
# 0x24c, protocol 2.08+). The kernel's build appends the uncompressed size as 4 bytes, hence
# --single-stream where the format allows trailing data. Writes $2 atomically.
extract_vmlinux() {
  local image=$1 out=$2 setup_sects offset length magic
  setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$image" | tr -d ' ')
  [ "$setup_sects" -ne 0 ] || setup_sects=4
  offset=$(od -An -tu4 -j $((0x248)) -N4 "$image" | tr -d ' ')
  length=$(od -An -tu4 -j $((0x24c)) -N4 "$image" | tr -d ' ')
  local start=$(( (setup_sects + 1) * 512 + offset ))
  magic=$(od -An -tx1 -j "$start" -N4 "$image" | tr -d ' ')
  local decompress
  case "$magic" in
    fd377a58) decompress="xz -dc --single-stream" ;;
    02214c18) decompress="lz4 -dc" ;;
    1f8b*) decompress="gzip -dc" ;;
    28b52ffd) decompress="zstd -dcq" ;;
    *) echo "fetch-debian-kernel.sh: $image: unknown payload format (magic $magic at $start)" >&2; return 1 ;;
  esac
  # gzip and lz4 warn about the trailing size bytes; the ELF check below is what counts.
  tail -c +$((start + 1)) "$image" | head -c "$length" | $decompress > "$out.tmp" 2>/dev/null || true
  if [ "$(od -An -tx1 -N4 "$out.tmp" | tr -d ' ')" != 7f454c46 ]; then
    echo "fetch-debian-kernel.sh: $image: the payload did not decompress to an ELF file" >&2
    rm -f "$out.tmp"
    return 1
  fi
  mv "$out.tmp" "$out"
}

if [ -s "$dest/vmlinuz" ] && [ -s "$dest/VERSION" ]; then
  [ -s "$dest/vmlinux" ] || extract_vmlinux "$dest/vmlinuz" "$dest/vmlinux"
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
extract_vmlinux "$dest.tmp/vmlinuz" "$dest.tmp/vmlinux"
cp "$work/root/boot/config-$version" "$dest.tmp/config" 2>/dev/null || true
if [ -d "$work/root/lib/modules" ]; then
  mkdir -p "$dest.tmp/lib"
  cp -a "$work/root/lib/modules" "$dest.tmp/lib/"
fi
echo "$version" > "$dest.tmp/VERSION"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "$dest"
