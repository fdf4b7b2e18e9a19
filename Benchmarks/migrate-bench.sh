#!/usr/bin/env bash
# Builds virtd in release mode and times live migration of the TCG test guest (512 MiB, booted) back and
# forth between two virtd in two network namespaces joined by a veth pair (peer to peer and client-managed,
# python3-libvirt) against bare QEMU driven over QMP (see migrate_bench.py). Needs root and iproute2.
# GUEST: the test guest directory (default .build/test-guest); SCRATCH: a --scratch-path for the build.
# Usage: migrate-bench.sh [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
export GUEST="${GUEST:-$(pwd)/.build/test-guest}"
if [ ! -s "$GUEST/cmdline" ]; then
    echo "no test guest in $GUEST (set GUEST)" >&2
    exit 1
fi
build=(swift build -c release --product virtd)
if [ -n "${SCRATCH:-}" ]; then build+=(--scratch-path "$SCRATCH"); fi
"${build[@]}" >/dev/null
uptime
virtd="$("${build[@]}" --show-bin-path)/virtd"
/usr/bin/python3 Benchmarks/migrate_bench.py "$virtd" "${1:-10}"
