#!/usr/bin/env bash
# Builds virtd in release mode and times a NAT network's start, and its start to the first DHCP lease of a client
# (Debian's dhcpcd), through virtd and Debian's libvirtd side by side, each daemon in a network namespace of
# its own (see net_bench.py). Needs root. Usage: net-bench.sh [repeats]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product virtd >/dev/null
uptime
virtd="$(swift build -c release --show-bin-path)/virtd"
/usr/bin/python3 Benchmarks/net_bench.py "$virtd" "${1:-10}"
