# shellcheck shell=bash
# Shared pieces of the initramfs recipes (sourced, not executed):
#   guest-images/initramfs/build-initramfs.sh  (the L2 guest's initramfs)
#   guest-images/nested/run-in-l1.sh           (the L1 host's initramfs)
# Both produce a newc cpio (gzip), the format the kernel unpacks into rootfs
# (Linux Documentation/filesystems/ramfs-rootfs-initramfs.rst, "Contents of initramfs").

ristretto_cache_dir() {
  echo "${RISTRETTO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ristretto}"
}

# The busybox-static version pins the binary that goes into every image, so it is part of the
# cache key: an apt upgrade of busybox-static rebuilds the images instead of reusing stale ones.
busybox_static_version() {
  local st
  st=$(dpkg-query -W -f='${db:Status-Status} ${Version}' busybox-static 2>/dev/null) || return 0
  case "$st" in installed\ *) echo "${st#installed }" ;; esac
}

# depmod_tree TREE: makes TREE/lib/modules/<VERSION>/modules.dep exist.
# Debian's kernel packages ship no modules.dep (linux-image's postinst runs depmod), so an
# unpacked package tree needs depmod -b before modprobe -d can resolve anything. It only adds
# index files next to the modules; flock keeps two concurrent builds from racing on them.
depmod_tree() {
  local tree=$1 version
  version=$(cat "$tree/VERSION")
  local moddir=$tree/lib/modules/$version
  [ -d "$moddir" ] || { echo "no modules directory $moddir in kernel tree $tree" >&2; return 1; }
  if [ ! -s "$moddir/modules.dep" ]; then
    (
      flock 9
      [ -s "$moddir/modules.dep" ] || depmod -b "$tree" "$version"
    ) 9>"$tree/.depmod.lock"
  fi
}

# resolve_modules TREE MODULE...: prints, in load order and without duplicates, the .ko paths
# (relative to TREE/lib/modules/<VERSION>/) needed to load MODULE... with insmod.
# `modprobe --show-depends` prints one "insmod <path>" line per module, dependencies first, and
# "builtin <name>" for code already in the kernel image (nothing to load then).
resolve_modules() {
  local tree=$1; shift
  local version moddir out line path rel
  version=$(cat "$tree/VERSION")
  moddir=$tree/lib/modules/$version
  depmod_tree "$tree" || return 1
  local -A seen=()
  local m
  for m in "$@"; do
    if ! out=$(modprobe -d "$tree" -S "$version" --show-depends "$m" 2>&1); then
      echo "module '$m' is not in kernel $version ($tree): $out" >&2
      return 1
    fi
    while IFS= read -r line; do
      case "$line" in
        insmod\ *)
          path=${line#insmod }
          path=${path%% *}
          rel=${path#"$moddir"/}
          if [ -z "${seen[$rel]:-}" ]; then
            seen[$rel]=1
            echo "$rel"
          fi
          ;;
      esac
    done <<<"$out"
  done
}

# stage_busybox ROOT: a minimal root with busybox-static and the directories an init needs.
# The applet links are made at boot (busybox --install -s) so the image lists one binary.
# Only the busybox-static package will do: its /bin/busybox needs no libraries in the image
# (Debian's dynamic "busybox" package conflicts with it, so the two never both own /bin/busybox).
stage_busybox() {
  local root=$1
  if [ -z "$(busybox_static_version)" ] || [ ! -x /bin/busybox ]; then
    echo "busybox-static is not installed (run guest-images/install-deps.sh)" >&2
    return 1
  fi
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,lib/modules,mnt}
  cp /bin/busybox "$root/bin/busybox"
}

# stage_modules TREE ROOT MODULE...: copies MODULE... and their dependencies into
# ROOT/lib/modules/ and writes ROOT/etc/modules.load (load order, one file name a line).
stage_modules() {
  local tree=$1 root=$2; shift 2
  local version moddir rel
  version=$(cat "$tree/VERSION")
  moddir=$tree/lib/modules/$version
  local list
  list=$(resolve_modules "$tree" "$@") || return 1
  : >"$root/etc/modules.load"
  while IFS= read -r rel; do
    [ -n "$rel" ] || continue
    cp "$moddir/$rel" "$root/lib/modules/"
    basename "$rel" >>"$root/etc/modules.load"
  done <<<"$list"
}

# pack_cpio ROOT OUT: newc cpio, gzip. Files are owned by root and the mtimes are fixed so the
# same inputs give the same bytes (the cache key already covers the inputs).
pack_cpio() {
  local root=$1 out=$2
  find "$root" -exec touch -h -d @0 {} +
  (cd "$root" && find . -print0 | LC_ALL=C sort -z |
    cpio --null --create --format=newc --owner=0:0 --quiet) | gzip -n -9 >"$out.tmp"
  mv "$out.tmp" "$out"
}
