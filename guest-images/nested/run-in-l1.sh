#!/usr/bin/env bash
# Runs COMMAND inside "L1": a small Linux VM under QEMU TCG whose emulated CPU (-cpu max) has AMD
# SVM with nested paging, so kvm_amd loads there and /dev/kvm behaves like hardware KVM. Used on
# hosts whose own /dev/kvm is PVM-backed (no VMX/SVM; unmodified Linux guests stop early there).
#
#   run-in-l1.sh [--timeout SECONDS] [--scratch DIR] [--mem SIZE] -- COMMAND [ARG]...
#
#   --timeout  wall-clock limit from QEMU's start: L1 boot + COMMAND (default 900); fetching the
#              kernel and building the initramfs (first run only) come before and do not count
#   --scratch  a host directory shared writable with L1 at the same absolute path (default: a new
#              directory under ${TMPDIR:-/tmp}); L1's console log and the run's result land here
#   --mem      L1 memory, QEMU -m syntax (default 6G; QEMU only touches what L1 uses)
#
# Inside L1 the host's root filesystem is mounted read-only over virtio-9p and made writable with
# an overlayfs whose upper layer is a tmpfs, so COMMAND sees the host's files (our JDK, the build)
# and nothing it writes reaches the host except under --scratch. COMMAND runs there (in a mount
# namespace of its own whose root is the overlay), in the caller's working directory, with PATH,
# JAVA_HOME, HOME, RISTRETTO_CACHE and CI taken from the caller (plus RISTRETTO_IN_L1=1). The host's /tmp stays visible (CI may clone the repository
# there); what L1 writes to it lands in the overlay's tmpfs, not on the host.
#
# COMMAND's output (stdout and stderr together: both are L1's serial console) is copied to this
# script's stdout; the harness's own messages go to stderr. Files in the scratch directory:
#   l1-console.log   L1's whole console, kernel messages included
#   l1-dmesg.log     L1's kernel log at the end of the run (when L1 got that far)
#   l1-result        key=value lines: outcome=<exited|timeout|no-kvm|crashed|missing-tools|no-kernel|
#                    bad-kernel-tree|bad-usage|interrupted>, status=<n>, l1_boot_ms=<ms from QEMU start to COMMAND start>,
#                    wall_ms=<ms in all>
#
# Exit status: COMMAND's own status, or
#   120 bad usage                 121 QEMU/busybox-static/kmod/cpio missing   122 L1's kernel unreachable/unusable
#   123 L1 has no /dev/kvm        124 COMMAND outlived --timeout   125 L1 died before COMMAND's status
#   came back, or stopped responding (its heartbeat file went stale; L1 is killed)
#   130 interrupted (SIGINT/SIGTERM/SIGHUP; L1 is killed)
# Because COMMAND may itself exit with these numbers, l1-result's outcome= is the reliable word.
#
# Environment: RISTRETTO_QEMU overrides the qemu-system-x86_64 binary; RISTRETTO_CACHE the cache;
# RISTRETTO_L1_TCG_THREAD=single runs L1 with single-threaded TCG (default multi; see bench/nested-stress.sh);
# RISTRETTO_L1_HANG_S (default 120) is how old L1's heartbeat file may get before L1 counts as hung.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib/initramfs-lib.sh
source "$here/../lib/initramfs-lib.sh"

EXIT_USAGE=120 EXIT_MISSING_TOOLS=121 EXIT_NO_KERNEL=122 EXIT_NO_KVM=123 EXIT_TIMEOUT=124 EXIT_CRASHED=125

timeout_s=900
hang_s=${RISTRETTO_L1_HANG_S:-120}
scratch=""
mem=6G
result_file=""

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
started_ms=$(now_ms)

# finish OUTCOME STATUS [BOOT_MS]: records the result (when there is a scratch dir) and exits.
finish() {
  local outcome=$1 status=$2 boot=${3:-}
  if [ -n "$result_file" ]; then
    {
      echo "outcome=$outcome"
      echo "status=$status"
      [ -z "$boot" ] || echo "l1_boot_ms=$boot"
      echo "wall_ms=$(( $(now_ms) - started_ms ))"
    } >"$result_file"
  fi
  exit "$status"
}
fail() { local outcome=$1 status=$2; shift 2; echo "run-in-l1.sh: $*" >&2; finish "$outcome" "$status"; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] ||
      fail bad-usage $EXIT_USAGE "--timeout needs a whole number of seconds, e.g. --timeout 600"
      timeout_s=$2; shift 2 ;;
    --scratch) [ $# -ge 2 ] || fail bad-usage $EXIT_USAGE "--scratch needs a directory"
      scratch=$2; shift 2 ;;
    --mem) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*[MG]?$ ]] ||
      fail bad-usage $EXIT_USAGE "--mem needs a size like 6G or 2048M"
      mem=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) fail bad-usage $EXIT_USAGE "unexpected argument '$1': put the command after --, e.g. run-in-l1.sh -- uname -a" ;;
  esac
done
[ $# -gt 0 ] || fail bad-usage $EXIT_USAGE "no COMMAND given: run-in-l1.sh [options] -- COMMAND [ARG]..."

if [ -z "$scratch" ]; then
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/ristretto-l1.XXXXXX")
else
  mkdir -p "$scratch" || fail bad-usage $EXIT_USAGE "cannot create scratch directory '$scratch'"
fi
scratch=$(cd "$scratch" && pwd -P)
# The path travels on L1's kernel command line and in QEMU's comma-separated -virtfs option.
[[ $scratch =~ ^/[A-Za-z0-9._/+-]+$ ]] ||
  fail bad-usage $EXIT_USAGE "scratch directory '$scratch' may only contain letters, digits and ._/+- (pick another --scratch)"
[ "$scratch" != / ] || fail bad-usage $EXIT_USAGE "the scratch directory cannot be / (pick another --scratch)"
result_file=$scratch/l1-result
console_log=$scratch/l1-console.log
job_dir=$scratch/.l1-job
rm -f "$result_file" "$console_log" "$scratch/l1-dmesg.log"
rm -rf "$job_dir"
mkdir -p "$job_dir"

qemu=${RISTRETTO_QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null 2>&1 ||
  fail missing-tools $EXIT_MISSING_TOOLS "$qemu is not installed: run guest-images/install-deps.sh as root"
bb_version=$(busybox_static_version)
[ -n "$bb_version" ] ||
  fail missing-tools $EXIT_MISSING_TOOLS "busybox-static is not installed: run guest-images/install-deps.sh as root"
command -v modprobe >/dev/null && command -v depmod >/dev/null && command -v cpio >/dev/null ||
  fail missing-tools $EXIT_MISSING_TOOLS "kmod or cpio is not installed: run guest-images/install-deps.sh as root"

# --- L1 kernel and initramfs -------------------------------------------------------------------
# Debian's generic kernel: both flavours have kvm_amd and overlay as modules, but the cloud one is
# built without 9p (CONFIG_NET_9P is not set), and 9p is how L1 sees the host's files.
fetch_status=0
kernel_tree=$("$here/../fetch-debian-kernel.sh" generic) || fetch_status=$?
case $fetch_status in
  0) ;;
  3) fail no-kernel $EXIT_NO_KERNEL "cannot reach Debian's archive for linux-image-amd64, L1's kernel (see the message above)" ;;
  *) fail bad-kernel-tree $EXIT_NO_KERNEL "fetch-debian-kernel.sh generic failed with status $fetch_status (see the message above)" ;;
esac
l1_modules=(kvm_amd virtio_pci 9p 9pnet_virtio overlay)

l1_init() {
  cat <<'INIT'
#!/bin/busybox sh
# L1's init: load modules, check /dev/kvm, build the host-root overlay, run the job, report.
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true

say() { echo "$*" >/dev/console; }
halt_l1() { sync; poweroff -f; while true; do sleep 1; done; }

for word in $(cat /proc/cmdline); do
  case "$word" in ristretto.scratch=*) scratch=${word#ristretto.scratch=} ;; esac
done

while read -r ko; do
  insmod "/lib/modules/$ko" || say "L1-INSMOD-FAILED $ko"
done </etc/modules.load

# kvm_amd registers the misc device only when the CPU offers SVM (AMD APM vol. 2, 15.4: CPUID
# Fn8000_0001 ECX bit 2); devtmpfs then creates /dev/kvm.
if [ ! -c /dev/kvm ]; then
  say "L1-NO-KVM"
  grep -o -w -E 'svm|npt' /proc/cpuinfo | sort -u | sed 's/^/L1-CPU-FLAG: /' >/dev/console
  dmesg | grep -i -E 'kvm|svm' | sed 's/^/L1-DMESG: /' >/dev/console
  halt_l1
fi

# 9p over virtio: msize 512000 is the largest the 6.1 virtio transport takes (VIRTQUEUE_NUM - 3
# pages); QEMU warns and is slow with the 8 KiB default. cache=loose is safe on the read-only root;
# the scratch share uses cache=mmap (no caching, but shared mmap works) so the host sees writes.
p9="trans=virtio,version=9p2000.L,msize=512000"
mkdir -p /mnt/lower /mnt/rw /newroot
mount -t 9p -o "$p9,cache=loose,ro" hostroot /mnt/lower || { say "L1-SETUP-FAILED 9p hostroot"; halt_l1; }
mount -t tmpfs -o mode=0755 tmpfs /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /newroot ||
  { say "L1-SETUP-FAILED overlay"; halt_l1; }
mount --bind /proc /newroot/proc
mount --bind /sys /newroot/sys
mount --bind /dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
mkdir -p "/newroot$scratch"
mount -t 9p -o "$p9,cache=mmap" scratch "/newroot$scratch" || { say "L1-SETUP-FAILED 9p scratch"; halt_l1; }

# From here the console is COMMAND's: only KERN_EMERG (panics) from L1's kernel may interleave.
# Everything else (e.g. kvm's "Unhandled WRMSR" notes about L2) is in l1-dmesg.log afterwards.
echo 1 >/proc/sys/kernel/printk
# Heartbeat for the host (see "hung" below): an L1 whose kernel wedges (docs/known-issues.md) stops
# refreshing this file, while one that is merely busy keeps doing so every few seconds.
( while :; do date +%s >"/newroot$scratch/.l1-job/heartbeat"; sleep 5; done ) </dev/null >/dev/null 2>&1 &
say "L1-COMMAND-START"
# The job gets a mount namespace of its own in which the overlay is moved onto / (what
# switch_root does) before the chroot: with chroot alone its root would not be its namespace's
# root, and Linux refuses such a "chrooted" process a user namespace (kernel/user_namespace.c,
# create_user_ns: current_chrooted() gives EPERM), which sandboxing tools like passt need.
unshare -m sh -c 'mount --make-rprivate / && cd /newroot && mount --move . / && exec chroot . /bin/bash "$1" ||
  { echo "L1-SETUP-FAILED mount namespace for the job"; exit 125; }' job "$scratch/.l1-job/job.sh" \
  </dev/null >/dev/console 2>&1
status=$?
say ""
say "L1-EXIT-STATUS=$status"
dmesg >"/newroot$scratch/l1-dmesg.log" 2>/dev/null
umount "/newroot$scratch"
halt_l1
INIT
}

key=$( {
  sha256sum "$here/run-in-l1.sh" "$here/../lib/initramfs-lib.sh" | cut -d' ' -f1
  echo "busybox-static=$bb_version kernel=$(cat "$kernel_tree/VERSION") modules=${l1_modules[*]}"
} | sha256sum | cut -c1-16)
initramfs_dir=$(ristretto_cache_dir)/initramfs
l1_initramfs=$initramfs_dir/l1-$key.cpio.gz
if [ ! -s "$l1_initramfs" ]; then
  mkdir -p "$initramfs_dir"
  work=$(mktemp -d "$initramfs_dir/.build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  stage_busybox "$work/root" || fail missing-tools $EXIT_MISSING_TOOLS "cannot stage busybox for L1's initramfs"
  l1_init >"$work/root/init"
  chmod 0755 "$work/root/init"
  stage_modules "$kernel_tree" "$work/root" "${l1_modules[@]}" ||
    fail bad-kernel-tree $EXIT_NO_KERNEL "cannot resolve L1's modules (${l1_modules[*]}) in $kernel_tree; delete it so fetch-debian-kernel.sh unpacks it again"
  pack_cpio "$work/root" "$work/l1.cpio.gz"
  mv "$work/l1.cpio.gz" "$l1_initramfs"
  rm -rf "$work"
  trap - EXIT
fi

# --- the job -----------------------------------------------------------------------------------
# Run by the host's bash inside L1's chroot; printf %q quotes every word for bash.
{
  echo "# generated by run-in-l1.sh"
  for var in PATH JAVA_HOME HOME RISTRETTO_CACHE CI; do
    if [ -n "${!var+set}" ]; then printf 'export %s=%q\n' "$var" "${!var}"; fi
  done
  echo "export RISTRETTO_IN_L1=1"
  printf 'cd %q || { echo "run-in-l1.sh (in L1): working directory %s does not exist in L1" >&2; exit 125; }\n' "$PWD" "$PWD"
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} >"$job_dir/job.sh"

# --- QEMU --------------------------------------------------------------------------------------
# -cpu max under TCG offers SVM with nested paging (QEMU target/i386 svm_helper.c), which is what
# kvm_amd needs. -nic none: no NIC, so SeaBIOS loads no iPXE ROM (seconds under TCG).
# shellcheck disable=SC2054 # the commas belong to QEMU's option syntax, not to the bash array
qemu_args=(
  -accel "tcg,thread=${RISTRETTO_L1_TCG_THREAD:-multi}" -cpu max -smp 2 -m "$mem"
  -nographic -no-reboot -nic none
  -kernel "$kernel_tree/vmlinuz" -initrd "$l1_initramfs"
  -append "console=ttyS0 quiet loglevel=4 panic=-1 mitigations=off ristretto.scratch=$scratch"
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
  -virtfs "local,path=$scratch,mount_tag=scratch,security_model=none,multidevs=remap"
)
echo "run-in-l1.sh: booting L1 (console log: $console_log)" >&2
qemu_started_ms=$(now_ms)
"$qemu" "${qemu_args[@]}" </dev/null >"$console_log" 2>&1 &
qemu_pid=$!
# A background job of a non-interactive shell ignores SIGINT, so ^C on this script would leave L1
# (and its memory) running: take it down with us.
trap 'kill -KILL "$qemu_pid" 2>/dev/null; echo "run-in-l1.sh: interrupted; L1 killed" >&2; finish interrupted 130' INT TERM HUP

# Copies COMMAND's part of the console to stdout: the lines between L1-COMMAND-START and the
# L1-EXIT-STATUS marker, without the serial console's carriage returns. Notes when COMMAND started.
# L1's init prints an empty line before the marker (so the marker starts a line even when COMMAND's
# output did not end with one); blank lines are therefore held back until a later line shows they
# were COMMAND's.
relay() {
  local line in_command=0 blank=0
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    case "$line" in
      *L1-COMMAND-START*)
        in_command=1
        local up=$(( $(now_ms) - qemu_started_ms ))
        echo "$up" >"$job_dir/boot-ms"
        printf 'run-in-l1.sh: L1 is up after %d.%d s; running the command\n' $((up / 1000)) $((up % 1000 / 100)) >&2 ;;
      *L1-EXIT-STATUS=*) in_command=0; blank=0 ;;
      '') [ $in_command -eq 0 ] || blank=$((blank + 1)) ;;
      *)
        if [ $in_command -eq 1 ]; then
          while [ $blank -gt 0 ]; do echo; blank=$((blank - 1)); done
          printf '%s\n' "$line"
        fi ;;
    esac
  done
}
tail -n +1 -F --pid="$qemu_pid" "$console_log" 2>/dev/null | relay &
relay_pid=$!

stop_qemu() {
  kill -TERM "$qemu_pid" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$qemu_pid" 2>/dev/null || true
}
timed_out=0 hung=0
deadline=$(( qemu_started_ms + timeout_s * 1000 ))
heartbeat=$job_dir/heartbeat
rm -f "$heartbeat"
while kill -0 "$qemu_pid" 2>/dev/null; do
  if [ "$(now_ms)" -ge "$deadline" ]; then
    timed_out=1
    stop_qemu
    break
  fi
  # Once L1 has started its heartbeat, a file older than hang_s means L1 itself stopped (its
  # kernel wedged with both vCPUs spinning, seen under QEMU 7.2's TCG): no point in waiting for
  # --timeout. Reported as crashed, which the test harness runs once more.
  if [ -f "$heartbeat" ] && [ $(( $(date +%s) - $(stat -c %Y "$heartbeat") )) -gt "$hang_s" ]; then
    hung=1
    stop_qemu
    break
  fi
  sleep 0.5
done
wait "$qemu_pid" 2>/dev/null && qemu_status=0 || qemu_status=$?
wait "$relay_pid" 2>/dev/null || true
boot_ms=$(cat "$job_dir/boot-ms" 2>/dev/null || true)

last_lines() {
  echo "run-in-l1.sh: last lines of L1's console ($console_log):" >&2
  # SeaBIOS clears the screen with ANSI escapes (ESC c, ESC [2J); drop them from the excerpt.
  tail -n "${1:-25}" "$console_log" | tr -d '\r' | sed -e 's/\x1bc//g; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/^/  | /' >&2
}

if [ $timed_out -eq 1 ]; then
  echo "run-in-l1.sh: COMMAND did not finish within --timeout $timeout_s s; L1 was killed" >&2
  last_lines 25
  finish timeout $EXIT_TIMEOUT "$boot_ms"
fi
if grep -a -q 'L1-NO-KVM' "$console_log"; then
  echo "run-in-l1.sh: L1 has no /dev/kvm (kvm_amd did not register); what L1 said:" >&2
  grep -a -E 'L1-(CPU-FLAG|DMESG|INSMOD-FAILED)' "$console_log" | tr -d '\r' | sed 's/^/  | /' >&2
  finish no-kvm $EXIT_NO_KVM "$boot_ms"
fi
if [ $hung -eq 1 ]; then
  echo "run-in-l1.sh: L1 stopped responding (no heartbeat for over $hang_s s); L1 was killed" >&2
  last_lines 25
  finish crashed $EXIT_CRASHED "$boot_ms"
fi
status=$(grep -a -o 'L1-EXIT-STATUS=[0-9]*' "$console_log" | tail -n 1 | cut -d= -f2 || true)
if [ -z "$status" ]; then
  echo "run-in-l1.sh: L1 stopped (QEMU exit status $qemu_status) before reporting COMMAND's exit status" >&2
  last_lines 25
  finish crashed $EXIT_CRASHED "$boot_ms"
fi
finish exited "$status" "$boot_ms"
