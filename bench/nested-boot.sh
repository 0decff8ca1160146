#!/usr/bin/env bash
# Issue #3's figure: wall time of one boot of Debian's cloud kernel + the busybox guest initramfs to
# power-off, under Ristretto and under QEMU + KVM, both inside the same nested L1 (QEMU TCG with
# SVM; see guest-images/nested/README.md), alternating, ROUNDS times each (default 3).
# Usage: bench/nested-boot.sh [ROUNDS]. Prints one line per boot and the medians.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${1:-3}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
(cd "$root" && mvn -q -B -DskipTests -pl cli -am package)
kernel="$("$root/guest-images/fetch-debian-kernel.sh" cloud)/vmlinuz"
initrd=$("$root/guest-images/initramfs/build-initramfs.sh")
scratch="$root/bench/target/nested-boot"
mkdir -p "$scratch"
cp_jars=$(ls "$root"/cli/target/lib/*.jar "$root"/cli/target/cli-*.jar | tr '\n' ':')
cat > "$scratch/boots.sh" <<INNER
#!/bin/bash
ms() { echo \$(( (\$(date +%s%N) - \$1) / 1000000 )); }
for i in \$(seq 1 $rounds); do
  t0=\$(date +%s%N)
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -XX:UseAVX=0 -cp "$cp_jars" dev.ristretto.cli.Main \
    run --kernel "$kernel" --initrd "$initrd" --memory 512M --append "console=ttyS0 quiet ristretto.action=poweroff" \
    --serial file:$scratch/ristretto-\$i.log
  echo "BOOT ristretto round=\$i status=\$? ms=\$(ms \$t0)"
  t0=\$(date +%s%N)
  qemu-system-x86_64 -enable-kvm -cpu host -M q35 -m 512M -nographic -no-reboot -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 quiet ristretto.action=poweroff" </dev/null > $scratch/qemu-\$i.log 2>&1
  echo "BOOT qemu round=\$i status=\$? ms=\$(ms \$t0)"
done
INNER
chmod +x "$scratch/boots.sh"
"$root/guest-images/nested/run-in-l1.sh" --timeout 1500 --scratch "$scratch" -- "$scratch/boots.sh" | tee "$scratch/result.txt"
for vmm in ristretto qemu; do
  grep "^BOOT $vmm " "$scratch/result.txt" | sed 's/.*ms=//' | sort -n | awk -v v="$vmm" \
    '{a[NR]=$1} END {if (NR) printf "median %s boot to power-off inside L1: %.1f s (n=%d)\n", v, a[int((NR+1)/2)]/1000, NR}'
done
