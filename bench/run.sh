#!/usr/bin/env bash
# Prints Ristretto's issue-#2 figures: FFM vs C ioctl cost, port-I/O exit round trip, process
# start to first serial byte, peak RSS. Usage: bench/run.sh [bzImage] (default: Debian's cloud
# kernel, fetched into the cache). Figures and their conditions are recorded in docs/figures.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
kernel=${1:-$("$root/guest-images/fetch-debian-kernel.sh" cloud)/vmlinuz}
out="$root/bench/target"
mkdir -p "$out"
(cd "$root" && mvn -q -B -DskipTests -pl cli,bench -am package)
# The module path the launcher uses: cli's runtime jars (copied at package time) and cli itself.
mp="$root/cli/target/lib:$(ls "$root"/cli/target/cli-*.jar)"
cp_jars=$(ls "$root"/cli/target/lib/*.jar | tr '\n' ':')
gcc -O2 -o "$out/ioctl_bench" "$root/bench/src/main/c/ioctl_bench.c"
echo "host: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "ioctl KVM_CHECK_EXTENSION from C: $("$out/ioctl_bench") ns/call"
"$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$root/bench/target/classes:$cp_jars" \
  dev.ristretto.bench.Figures "$kernel" "$JAVA_HOME/bin/java" "$mp"
