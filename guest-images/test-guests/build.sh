#!/usr/bin/env bash
# Builds the freestanding test guests from source and prints the path of each, one per line:
#   pvh-probe    ELF64 with a XEN_ELFNOTE_PHYS32_ENTRY note; 32-bit code entered by the PVH ABI
#   elf64-probe  ELF64 entered at e_entry in 64-bit mode with RSI = boot_params
#   virtio-probe ELF64 with both: e_entry (64-bit, RSI = boot_params) and a PVH note whose 32-bit
#                entry enters long mode itself; drives virtio-pci devices by polling
# Usage: build.sh [output-dir]
# The default output directory is ${RISTRETTO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ristretto}/test-guests
# (outside the repository; nothing built is committed). Needs gcc, ld and objcopy (binutils);
# gcc drives ld itself.
# Exits 3 with the reason on stderr when a tool is missing, non-zero on any build error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${RISTRETTO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ristretto}
out=${1:-$cache/test-guests}
CC=${CC:-gcc}
OBJCOPY=${OBJCOPY:-objcopy}

for tool in "$CC" "$OBJCOPY" ld; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build.sh: $tool not found; install gcc and binutils" >&2
    exit 3
  fi
done

# Freestanding, no floating point or vector registers (KVM's instruction emulator, which runs
# these guests on PVM hosts, does not handle SSE), no CET endbr instructions (unknown to the
# emulator), no stack protector or unwind tables (no runtime to back them), absolute code.
cflags=(-std=c11 -O2 -Wall -Wextra -Werror -ffreestanding -fno-builtin -nostdlib -static
        -mno-sse -mno-mmx -mgeneral-regs-only -fno-pic -fno-pie
        -fno-stack-protector -fcf-protection=none -fno-asynchronous-unwind-tables
        -fno-exceptions)
ldflags=(-nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=0x1000
         -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# pvh-probe: 32-bit code (the PVH entry is in 32-bit protected mode), linked as ELF32 and then
# converted to an ELF64 x86-64 container, the form Linux's vmlinux has and our loader reads.
"$CC" -m32 -march=i686 "${cflags[@]}" -c "$here/pvh-start.S" -o "$work/pvh-start.o"
"$CC" -m32 -march=i686 "${cflags[@]}" -c "$here/pvh-probe.c" -o "$work/pvh-probe.o"
"$CC" -m32 -march=i686 "${cflags[@]}" -c "$here/probe.c" -o "$work/probe32.o"
"$CC" -m32 "${ldflags[@]}" -T "$here/pvh-probe.ld" -Wl,-m,elf_i386 -o "$work/pvh-probe.elf32" \
  "$work/pvh-start.o" "$work/pvh-probe.o" "$work/probe32.o"
"$OBJCOPY" -I elf32-i386 -O elf64-x86-64 "$work/pvh-probe.elf32" "$work/pvh-probe"

# elf64-probe: ordinary x86-64 code; no red zone, since nothing guarantees one below RSP.
"$CC" -m64 -mno-red-zone "${cflags[@]}" -c "$here/elf64-start.S" -o "$work/elf64-start.o"
"$CC" -m64 -mno-red-zone "${cflags[@]}" -c "$here/elf64-probe.c" -o "$work/elf64-probe.o"
"$CC" -m64 -mno-red-zone "${cflags[@]}" -c "$here/probe.c" -o "$work/probe64.o"
"$CC" -m64 "${ldflags[@]}" -T "$here/elf64-probe.ld" -Wl,-m,elf_x86_64 -o "$work/elf64-probe" \
  "$work/elf64-start.o" "$work/elf64-probe.o" "$work/probe64.o"

# virtio-probe: 64-bit C plus a 32-bit PVH stub in the same object (virtio-start.S switches with
# .code32/.code64). No loop-to-memset rewriting inside its own memset and memcpy.
vflags=(-m64 -mno-red-zone -fno-tree-loop-distribute-patterns "${cflags[@]}")
for src in virtio-start.S virtio-probe.c virtio-pci.c virtio-devices.c virtio-bench.c probe.c; do
  "$CC" "${vflags[@]}" -c "$here/$src" -o "$work/virtio-${src%.*}.o"
done
"$CC" -m64 "${ldflags[@]}" -T "$here/virtio-probe.ld" -Wl,-m,elf_x86_64 -o "$work/virtio-probe" \
  "$work/virtio-virtio-start.o" "$work/virtio-virtio-probe.o" "$work/virtio-virtio-pci.o" \
  "$work/virtio-virtio-devices.o" "$work/virtio-virtio-bench.o" "$work/virtio-probe.o"

mkdir -p "$out"
for guest in pvh-probe elf64-probe virtio-probe; do
  # Replace atomically so a concurrent reader never sees a half-written file.
  cp "$work/$guest" "$out/.$guest.tmp"
  mv -f "$out/.$guest.tmp" "$out/$guest"
  echo "$out/$guest"
done
