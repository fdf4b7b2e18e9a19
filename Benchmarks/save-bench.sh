#!/usr/bin/env bash
# Builds virtd in release mode and times save and restore of a 256 MiB KVM domain (no guest OS) through virtd,
# Debian's libvirtd and bare QEMU over QMP (see save_bench.py). Needs root and /dev/kvm usable by libvirt-qemu
# (group kvm, mode 0660). Runs it twice: a KVM domain without a guest OS (nearly all zero pages), and the
# TCG test guest (.build/test-guest) booted first. Usage: save-bench.sh [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product virtd >/dev/null
uptime
virtd="$(swift build -c release --show-bin-path)/virtd"
/usr/bin/python3 Benchmarks/save_bench.py "$virtd" "${1:-10}" kvm
if [ -s .build/test-guest/cmdline ]; then
    /usr/bin/python3 Benchmarks/save_bench.py "$virtd" "${1:-10}" tcg
fi
