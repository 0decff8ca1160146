#!/usr/bin/env bash
# Prints Ristretto's issue-#2 figures: FFM vs C ioctl cost, port-I/O exit round trip, process
# start to first serial byte, peak RSS (for the elf64-probe test guest, which prints at once, and
# for a kernel). Usage: bench/run.sh [bzImage] (default: Debian's cloud kernel, fetched into the cache). Figures and their conditions are recorded in docs/figures.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
kernel=${1:-$("$root/guest-images/fetch-debian-kernel.sh" cloud)/vmlinuz}
out="$root/bench/target"
mkdir -p "$out"
(cd "$root" && mvn -q -B -DskipTests -pl cli,bench -am package)
# The module path the launcher uses: cli's runtime jars (copied at package time) and cli itself.
mp="$(ls "$root"/cli/target/cli-*.jar):$root/cli/target/lib"
cp_jars="$(ls "$root"/cli/target/cli-*.jar):$(ls "$root"/cli/target/lib/*.jar | grep -v '/cli-' | tr '\n' ':')"
gcc -O2 -o "$out/ioctl_bench" "$root/bench/src/main/c/ioctl_bench.c"
echo "host: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "ioctl KVM_CHECK_EXTENSION from C: $("$out/ioctl_bench") ns/call"
probe=$("$root/guest-images/test-guests/build.sh" "$out/guests" | sed -n 2p)
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$root/bench/target/classes:$cp_jars" \
  dev.ristretto.bench.Figures "$JAVA_HOME/bin/java" "$mp" "$probe" "$kernel"
