#!/usr/bin/env bash
# The daemons' cost per call in instructions (valgrind's callgrind), virtd against Debian's libvirtd 9.0 in
# one run. Wall time on a shared machine swings 2x between runs; instruction counts repeat to well under 1%.
#
# For each daemon: one run under callgrind that makes the calls of rpc_bench.py's 1000-domain loop (define,
# listAll, listDefined, XMLDesc, lookupByName + XMLDesc, undefine; with N domains: 5N+3 calls, python's
# listDefinedDomains being two) on one python3-libvirt connection to test:///default, and one run that makes
# none (same daemon start, connect, close, SIGTERM, exit). Instructions per call = (Ir loop - Ir base) / calls,
# every thread of the daemon counted. libvirtd runs as rpc_bench.py runs it (bench_daemons.py: `tini -s`,
# `-p PIDFILE`, its own config and socket dir, a private mount namespace), valgrind with --trace-children=no.
# valgrind 3.19 cannot read the DWARF 5 of a Swift release binary, so the debug info is stripped from a copy
# of virtd (`strip --strip-debug`: the symbol table stays, so functions keep their names).
#
# Prints the table (virtd, libvirtd, ratio) and leaves in OUTDIR (default .build/callgrind, not committed):
# the callgrind files, callgrind_annotate's exclusive and inclusive reports of every run (Swift names
# demangled), and virtd-percall-{exclusive,inclusive}.txt / libvirtd-percall-*.txt: per function, the loop
# run minus the base run divided by the calls, i.e. where one call's instructions go, and *-percall-areas.txt:
# the exclusive counts summed by area (NIO, retain/release, malloc, libxml2, XML model, concurrency...).
#
# Usage: Benchmarks/callgrind-bench.sh [N] [REPEAT] [OUTDIR]
#   N domains (default 200: 1003 calls; the whole run takes about 20 s after the build on this 2-core
#   machine, valgrind being some 50 times slower than the daemons); REPEAT runs of each kind (default 1; with
#   more, each loop run's figure is printed and medians are used).
# Stability, checked on the shared 2-core machine while other builds ran: with REPEAT=3 the per-call figures
# of the three loop runs were within 0.2% of each other for virtd and 1.1% for libvirtd, and N=1000 (5003
# calls) gave the same per-call figures as N=200 within 0.4% for both (listAllDomains, whose cost grows with
# N, is 1 call in 5N+3).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-200}"
REPEAT="${2:-1}"
OUT="${3:-.build/callgrind}"
swift build -c release --product virtd >/dev/null
mkdir -p "$OUT"
strip --strip-debug -o "$OUT/virtd" "$(swift build -c release --show-bin-path)/virtd"
exec /usr/bin/python3 Benchmarks/callgrind_bench.py "$OUT/virtd" "$OUT" "$N" "$REPEAT"
