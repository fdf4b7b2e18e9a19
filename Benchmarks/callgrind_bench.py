#!/usr/bin/python3
"""Instructions per call of virtd and of Debian's libvirtd, counted by valgrind's callgrind (see
callgrind-bench.sh, which builds virtd and calls this).

For each daemon, two runs under `valgrind --tool=callgrind`, each a fresh daemon: start, one python3-libvirt
connection to test:///default, close, SIGTERM, exit. The "loop" run makes the calls of rpc_bench.py's
1000-domain loop (its own `domain_loop`, with N domains) on that connection; the "base" run makes none.
Instructions per call = (Ir of the loop run - Ir of the base run) / calls. Ir counts every thread of the
daemon (one callgrind file per process, threads not separated). The client reaches the daemon through a
small counting proxy, so the number of CALL packets is counted, not assumed (python's listDefinedDomains
is two calls, for instance).

Writes, per daemon and run, the callgrind file and callgrind_annotate's exclusive and inclusive
per-function reports (Swift names demangled), and `DAEMON-percall-{exclusive,inclusive}.txt`: per function,
(loop - base) / calls, i.e. where one call's instructions go.

Usage: callgrind_bench.py VIRTD_BINARY OUTDIR [N] [REPEAT]
  VIRTD_BINARY: a virtd whose debug info valgrind can read (callgrind-bench.sh strips the DWARF of a copy).
  N: domains in the loop (5N+3 calls), default 200. REPEAT: runs of each kind, default 1; with more, every
  run is printed and the medians are used (a check of how repeatable the figures are).
"""
import os, re, signal, socket, statistics, struct, subprocess, sys, threading, time, tempfile, shutil
import libvirt
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_daemons

VIRTD = os.path.abspath(sys.argv[1])
OUT = os.path.abspath(sys.argv[2])
N = int(sys.argv[3]) if len(sys.argv) > 3 else 200
REPEAT = int(sys.argv[4]) if len(sys.argv) > 4 else 1
TIMEOUT = 300  # seconds for a daemon to start or stop under valgrind

libvirt.registerErrorHandler(lambda *a: None, None)

_argv, sys.argv = sys.argv, sys.argv[:1]  # rpc_bench reads its own arguments at import
import rpc_bench  # noqa: E402  (its domain_loop is the loop measured here)
sys.argv = _argv


class CountingProxy:
    """Forwards one client connection at a time to `upstream`, counting the CALL packets the client sends."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.dir = tempfile.mkdtemp(prefix="cg-proxy-")
        self.path = self.dir + "/sock"
        self.calls = 0
        self.procs = {}
        self.lock = threading.Lock()
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(4)
        self.threads = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            u.connect(self.upstream)
            a = threading.Thread(target=self._pump, args=(c, u, True), daemon=True)
            b = threading.Thread(target=self._pump, args=(u, c, False), daemon=True)
            self.threads += [a, b]
            a.start()
            b.start()

    def _pump(self, src, dst, count):
        buf = b""
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if count:
                buf += data
                while len(buf) >= 28:
                    (length,) = struct.unpack(">I", buf[:4])
                    if len(buf) < length:
                        break
                    _prog, _vers, proc, typ = struct.unpack(">IIiI", buf[4:20])
                    if typ in (0, 4):  # CALL, CALL_WITH_FDS
                        with self.lock:
                            self.calls += 1
                            self.procs[proc] = self.procs.get(proc, 0) + 1
                    buf = buf[length:]
            dst.sendall(data)

    def close(self):
        self.srv.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def valgrind(out_base):
    return ["valgrind", "--tool=callgrind", "--trace-children=no", "-q",
            f"--callgrind-out-file={out_base}.%p"]


def totals(path):
    """The Ir total of a callgrind file (all threads)."""
    total = None
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                total = int(line.split()[1])
    if total is None:
        raise RuntimeError(f"no totals in {path}")
    return total


def run(kind, loop, tag):
    """One daemon run under callgrind; returns (Ir, calls made, callgrind file)."""
    base = f"{OUT}/{kind}-{tag}"
    for f in os.listdir(OUT):
        if f.startswith(f"{kind}-{tag}."):
            os.unlink(f"{OUT}/{f}")
    if kind == "virtd":
        d = bench_daemons.Virtd(VIRTD, "test+unix:///default", wrapper=valgrind(base), timeout=TIMEOUT,
                                prefix="cg-virtd-", log=base + ".log")
        sock = d.uri.split("socket=")[1]
    else:
        d = bench_daemons.Libvirtd("test+unix:///default", wrapper=valgrind(base), timeout=TIMEOUT,
                                   prefix="cg-libvirtd-", log=base + ".log")
        sock = d.uri.split("socket=")[1]
    proxy = CountingProxy(sock)
    try:
        conn = libvirt.open(f"test+unix:///default?socket={proxy.path}")
        before = proxy.calls
        if loop:
            rpc_bench.N_DOM = N
            rpc_bench.domain_loop(conn)
        calls = proxy.calls - before
        conn.close()
        time.sleep(0.2)
    finally:
        pid = d.pid
        d.stop()
        proxy.close()
    path = f"{base}.{pid}"
    if not os.path.exists(path):
        raise RuntimeError(f"callgrind wrote no {path}")
    return totals(path), calls, path, dict(proxy.procs)


ANNOT = re.compile(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(\S.*)$")


def annotate(path, inclusive):
    """callgrind_annotate's per-function counts of `path` (Swift names demangled): {function: Ir}."""
    out = subprocess.run(["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", "--threshold=100",
                          "--auto=no", path], check=True, capture_output=True, text=True).stdout
    if shutil.which("swift"):
        out = subprocess.run(["swift", "demangle", "--simplified"], input=out, check=True, capture_output=True,
                             text=True).stdout
    report = path + (".inclusive.txt" if inclusive else ".exclusive.txt")
    with open(report, "w") as f:
        f.write(out)
    funcs = {}
    started = False
    for line in out.splitlines():
        if not started:
            started = line.startswith("Ir") and "file:function" in line
            continue
        m = ANNOT.match(line)
        if m:
            name = m.group(2).strip()
            funcs[name] = funcs.get(name, 0) + int(m.group(1).replace(",", ""))
    return funcs


AREAS = [  # (area, pattern on "file:function [object]"), first match wins; exclusive counts
    ("libxml2", r"libxml2"),
    ("malloc/free", r"malloc\.c:|arena\.c:|swift_slowAlloc|swift_slowDealloc"),
    ("libc (memcpy, syscall wrappers, locks...)", r"\[/usr/lib/x86_64-linux-gnu/libc\.so|^\./(string|nptl|sysdeps|io|misc|socket)/"),
    ("dynamic loader", r"ld-linux|/elf/"),
    ("Swift exclusivity checks", r"swift_beginAccess|swift_endAccess|AccessSet|SwiftTLSContext"),
    ("Swift retain/release/alloc", r"swift_retain|swift_release|swift_bridgeObject|doDecrementSlow|swift_isUniquely|"
     r"swift_deallocObject|swift_deallocClassInstance|swift_allocObject|swift_initStackObject|swift_arrayDestroy|"
     r"swift_deallocUninitialized|RefCounts|swift_unknownObject"),
    ("Swift concurrency runtime", r"swift_task|AsyncTask|swift_job|Job\b|Job\*|withStatusRecordLock|StackAllocator|"
     r"swift_defaultActor|DefaultActor|TaskExecutor|completeTask|future_adapter|swift_continuation|"
     r"runJobIn|ExecutorTracking|swift_asyncLet|TaskGroup|swift::runtime::|ActiveTaskStatus|task_alloc"),
    ("Swift metadata, generics, casts", r"[Mm]etadata|Conformance|conformsToProtocol|WitnessTable|TypeWitness|"
     r"swift_once|swift_dynamicCast|getCache|HashMap|ConcurrentReadable|TypeByMangledName|swift_getTupleType|"
     r"Demangle|instantiate|swift_checkMetadataState|swift_getAssociated|protocol witness table accessor"),
    ("SwiftNIO", r"SelectableEventLoop|Selector|Channel|ByteBuffer|ByteToMessage|PendingWrite|EventLoop|NIO|"
     r"CircularBuffer|Socket|ScheduledTask|UnderlyingTask|IOData|CallbackList|_popTasks|ChannelHandler|"
     r"HeadChannelHandler|TailChannelHandler|EventLoopFuture|EventLoopPromise|ConditionLock|Lock\b|NIOLock"),
    ("domain XML formatting (VirtCore)", r"XMLWriter|format\(|formatXML|Format|description\.getter"),
    ("domain XML parsing (VirtCore)", r"XMLParser|XMLElement|parse|DomainDefinition|OSConfig|DomainDevices|"
     r"MemoryUnit|VirtUUID|ClockConfig|DomainFeatures|DomainLifecycle|CPUDefinition|applyDefaults|trimmingSpaces"),
    ("test driver", r"TestDriver|TestDomain|TestNode|TestTaint|TestLifecycle|HostName"),
    ("RPC: XDR, dispatch, session, events", r"XDR|RPC|RemoteDispatcher|ServerConnectionHandler|ClientSession|"
     r"KeyedAsyncLock|EventLoopTaskExecutor|RemoteProcedure|EventBus|DomainRef|DriverProvider|ServerStream"),
    ("Swift stdlib (String, Array, Dictionary, Hasher...)", r"virtd\]$|libvirtd|libvirt\.so"),
]


def areas(exclusive_rows):
    """Sums (per-call Ir, function) rows by area."""
    sums = {}
    for v, name in exclusive_rows:
        area = next((a for a, pat in AREAS if re.search(pat, name)), "other")
        sums[area] = sums.get(area, 0) + v
    return sorted(((v, a) for a, v in sums.items()), reverse=True)


def per_call_report(kind, loop_path, base_path, calls):
    for inclusive in (False, True):
        a = annotate(loop_path, inclusive)
        b = annotate(base_path, inclusive)
        rows = sorted(((a.get(k, 0) - b.get(k, 0)) / calls, k) for k in set(a) | set(b))
        rows.reverse()
        name = f"{OUT}/{kind}-percall-{'inclusive' if inclusive else 'exclusive'}.txt"
        with open(name, "w") as f:
            f.write(f"# {kind}: (Ir of the loop run - Ir of the base run) / {calls} calls, per function, "
                    f"{'inclusive' if inclusive else 'exclusive'}\n")
            for v, k in rows:
                if abs(v) >= 1:
                    f.write(f"{v:12.1f}  {k}\n")
        if not inclusive:
            with open(f"{OUT}/{kind}-percall-areas.txt", "w") as f:
                f.write(f"# {kind}: instructions per call by area (exclusive counts of the functions, summed)\n")
                for v, a in areas(rows):
                    f.write(f"{v:12.0f}  {a}\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    res = {}
    for kind in ("virtd", "libvirtd"):
        runs = {"base": [], "loop": []}
        for r in range(REPEAT):
            for tag, loop in (("base", False), ("loop", True)):
                t = time.time()
                ir, calls, path, procs = run(kind, loop, f"{tag}{r}")
                runs[tag].append((ir, calls, path))
                print(f"{kind} {tag} run {r + 1}: {ir:,} Ir, {calls} calls, {time.time() - t:.0f} s",
                      file=sys.stderr, flush=True)
                if loop and r == 0:
                    print(f"  calls by procedure: {dict(sorted(procs.items()))}", file=sys.stderr)
        base_ir = statistics.median(x[0] for x in runs["base"])
        loop_ir = statistics.median(x[0] for x in runs["loop"])
        calls = runs["loop"][0][1] - runs["base"][0][1]
        if any(x[1] - runs["base"][0][1] != calls for x in runs["loop"]):
            raise RuntimeError("the loop runs made different numbers of calls")
        per = (loop_ir - base_ir) / calls
        spread = [(x[0] - base_ir) / calls for x in runs["loop"]]
        res[kind] = (per, base_ir, calls, spread)
        per_call_report(kind, runs["loop"][0][2], runs["base"][0][2], calls)
    v, l = res["virtd"], res["libvirtd"]
    print(f"callgrind, {N}-domain loop of rpc_bench.py ({v[2]} calls), {REPEAT} run(s) of each kind")
    print(f"{'':40}{'virtd':>14}{'libvirtd':>14}{'ratio':>8}")
    print(f"{'instructions per call':40}{v[0]:>14,.0f}{l[0]:>14,.0f}{v[0] / l[0]:>8.3f}")
    print(f"{'instructions, base run (start to exit)':40}{v[1]:>14,.0f}{l[1]:>14,.0f}{v[1] / l[1]:>8.3f}")
    if REPEAT > 1:
        for kind in ("virtd", "libvirtd"):
            s = res[kind][3]
            print(f"  {kind} per call by loop run (against the median base): "
                  + ", ".join(f"{x:,.0f}" for x in s)
                  + f"  (spread {(max(s) - min(s)) / res[kind][0] * 100:.2f}%)")
    with open(f"{OUT}/virtd-percall-areas.txt") as f:
        print("virtd per call by area (exclusive instructions of the area's functions):")
        for line in list(f)[1:]:
            print("  " + line.rstrip())
    print(f"reports: {OUT}/*-percall-*.txt (per call, per function), {OUT}/*.exclusive.txt, *.inclusive.txt")


if __name__ == "__main__":
    main()
