#!/usr/bin/env bash
# How often does a boot inside the nested test host (L1: QEMU 7.2 TCG with SVM) end the way
# docs/known-issues.md describes (JVM abort, guest triple fault, stall, L1 crash)? Boots Debian's
# cloud kernel with the busybox guest initramfs BOOTS times (default 12) in one L1, 2 vCPUs, to
# power-off, and tallies how each boot ended. A stalled boot gets SIGQUIT first, so its JVM thread
# dump is in stall-<i>.stdout.log.
# Usage: bench/nested-stress.sh [BOOTS] [KVM_AMD_PARAMS...]
#   KVM_AMD_PARAMS (e.g. vgif=0 vls=0) reload L1's kvm_amd with those parameters first.
#   RISTRETTO_L1_TCG_THREAD=single|multi (run-in-l1.sh) picks QEMU's TCG threading for L1.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
boots=${1:-12}
shift || true
params="$*"
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
(cd "$root" && mvn -q -B -o -DskipTests -pl cli -am package)
kernel="$("$root/guest-images/fetch-debian-kernel.sh" cloud)/vmlinuz"
l1tree=$("$root/guest-images/fetch-debian-kernel.sh" generic)
initrd=$("$root/guest-images/initramfs/build-initramfs.sh")
scratch="$root/bench/target/nested-stress"
rm -rf "$scratch"
mkdir -p "$scratch"
cp_jars=$(ls "$root"/cli/target/lib/*.jar "$root"/cli/target/cli-*.jar | tr '\n' ':')
cat > "$scratch/boots.sh" <<INNER
#!/bin/bash
if [ -n "$params" ]; then
  modprobe -d "$l1tree" -r kvm_amd && modprobe -d "$l1tree" kvm_amd $params
  echo "KVM_AMD reloaded with: $params (status \$?)"
fi
for p in /sys/module/kvm_amd/parameters/*; do printf '%s=%s ' "\${p##*/}" "\$(cat "\$p")"; done; echo
for i in \$(seq 1 $boots); do
  t0=\$(date +%s%N)
  timeout -s QUIT -k 20 120 "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC \
    -XX:ErrorFile=$scratch/hs_err-\$i.log -cp "$cp_jars" dev.ristretto.cli.Main \
    run --kernel "$kernel" --initrd "$initrd" --memory 512M --cpus 2 \
    --append "console=ttyS0 ristretto.action=poweroff" --serial file:$scratch/serial-\$i.log \
    >$scratch/stdout-\$i.log 2>$scratch/stderr-\$i.log
  status=\$?
  if [ \$status = 0 ]; then how=ok
  elif [ \$status = 134 ]; then how=jvm-abort
  elif [ \$status = 137 ]; then how=stall
  elif grep -q KVM_EXIT_SHUTDOWN $scratch/stderr-\$i.log; then how=triple-fault
  else how=other; fi
  echo "BOOT \$i \$how status=\$status ms=\$(( (\$(date +%s%N) - t0) / 1000000 ))"
done
INNER
chmod +x "$scratch/boots.sh"
set +e
"$root/guest-images/nested/run-in-l1.sh" --timeout $((boots * 150 + 60)) --scratch "$scratch" -- "$scratch/boots.sh" \
  | tee "$scratch/result.txt"
echo "run-in-l1.sh status: ${PIPESTATUS[0]}"
set -e
echo "tally (TCG thread=${RISTRETTO_L1_TCG_THREAD:-multi}, kvm_amd ${params:-defaults}):"
grep -a -o '^\(\[L1\] \)\?BOOT [0-9]* [a-z-]*' "$scratch/result.txt" | awk '{print $NF}' | sort | uniq -c
