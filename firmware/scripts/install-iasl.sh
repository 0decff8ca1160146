#!/usr/bin/env bash
# Installs iasl (the ACPICA compiler/disassembler, Debian package acpica-tools) so that
# AcpiTablesIaslTest can disassemble the DSDT we generate. The test skips, with that reason,
# when iasl is missing; this script is how a developer or CI makes it run.
set -euo pipefail
if command -v iasl >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-iasl.sh: needs root to apt-get install acpica-tools; run it as root or install that package yourself." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends acpica-tools >/dev/null
command -v iasl
