#!/usr/bin/env bash
# Builds virtd in release mode and times the steady-state start of a minimal KVM domain with and without an
# emulated TPM (swtpm) through virtd and Debian's libvirtd 9.0 in one run (see tpm_bench.py). Needs root,
# /dev/kvm (group kvm 0660) and swtpm. Usage: tpm-bench.sh [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product virtd >/dev/null
uptime
exec /usr/bin/python3 Benchmarks/tpm_bench.py "$(swift build -c release --show-bin-path)/virtd" "${1:-10}"
