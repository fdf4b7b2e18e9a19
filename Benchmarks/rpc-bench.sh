#!/usr/bin/env bash
# Builds virtd in release mode and runs the remote-protocol benchmark against Debian's libvirtd.
set -euo pipefail
cd "$(dirname "$0")/.."
# Release builds link the Swift runtime and Foundation statically (Package.swift).
swift build -c release --product virtd >/dev/null
exec /usr/bin/python3 Benchmarks/rpc_bench.py "$(swift build -c release --show-bin-path)/virtd" "${1:-5}"
