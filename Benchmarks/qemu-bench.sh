#!/usr/bin/env bash
# Builds virtd in release mode and times a minimal KVM domain's start and destroy through virtd, Debian's
# libvirtd and bare QEMU (see qemu_bench.py). Needs root and /dev/kvm. Usage: qemu-bench.sh [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product virtd >/dev/null
uptime
exec /usr/bin/python3 Benchmarks/qemu_bench.py "$(swift build -c release --show-bin-path)/virtd" "${1:-10}"
