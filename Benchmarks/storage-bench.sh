#!/usr/bin/env bash
# Builds virtd in release mode and times vol-create (10 GiB qcow2) and vol-download (1 GiB raw) through virtd and
# Debian's libvirtd side by side (see storage_bench.py). Needs root. Usage: storage-bench.sh [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product virtd >/dev/null
uptime
virtd="$(swift build -c release --show-bin-path)/virtd"
/usr/bin/python3 Benchmarks/storage_bench.py "$virtd" "${1:-10}"
