#!/usr/bin/python3
"""Remote-protocol benchmark: virtd against Debian's libvirtd, same python3-libvirt client, same run.

Starts both daemons (virtd under --root TMP; libvirtd under tini in a private mount namespace with its own
sockets), then measures on the unix socket:
  - the trivial round trip (getHostname), microseconds per call;
  - the 1000-domain loop (defineXML, listAllDomains, listDefinedDomains, XMLDesc, lookupByName+XMLDesc,
    undefine), milliseconds;
  - daemon RSS idle (one client connected) and with 1000 domains defined.
Prints both sides and the ratios (virtd / libvirtd). Usage: rpc_bench.py PATH/TO/virtd [rounds]
"""
import os, signal, subprocess, sys, tempfile, time, shutil, statistics
import libvirt
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_daemons

VIRTD = sys.argv[1] if len(sys.argv) > 1 else ".build/release/virtd"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
N_RT = 20000
N_DOM = 1000

libvirt.registerErrorHandler(lambda *a: None, None)

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1

def Virtd():
    return bench_daemons.Virtd(VIRTD, "test+unix:///default")

def Libvirtd():
    return bench_daemons.Libvirtd("test+unix:///default")

XML = """<domain type='test'><name>bench{i}</name><uuid>{u}</uuid><memory unit='KiB'>131072</memory>
<vcpu>1</vcpu><os><type arch='i686'>hvm</type></os></domain>"""

def uuid(i):
    return "b0000000-0000-0000-0000-%012d" % i

def round_trip(conn):
    for _ in range(200):
        conn.getHostname()
    t = time.perf_counter()
    for _ in range(N_RT):
        conn.getHostname()
    return (time.perf_counter() - t) / N_RT * 1e6

def domain_loop(conn):
    t = time.perf_counter()
    doms = [conn.defineXML(XML.format(i=i, u=uuid(i))) for i in range(N_DOM)]
    all_ = conn.listAllDomains()
    names = conn.listDefinedDomains()
    for d in doms:
        d.XMLDesc(0)
    for i in range(N_DOM):
        conn.lookupByName("bench%d" % i).XMLDesc(0)
    for d in doms:
        d.undefine()
    el = (time.perf_counter() - t) * 1e3
    assert len(all_) >= N_DOM and len(names) >= N_DOM
    return el

def measure(daemon):
    conn = libvirt.open(daemon.uri)
    time.sleep(0.3)
    idle = rss_kib(daemon.pid)
    rts = [round_trip(conn) for _ in range(ROUNDS)]
    loops = [domain_loop(conn) for _ in range(ROUNDS)]
    doms = [conn.defineXML(XML.format(i=i, u=uuid(i))) for i in range(N_DOM)]
    time.sleep(0.2)
    full = rss_kib(daemon.pid)
    for d in doms:
        d.undefine()
    conn.close()
    return {"rt": statistics.median(rts), "loop": statistics.median(loops), "idle": idle, "full": full}

def main():
    results = {}
    for cls in (Virtd, Libvirtd):
        d = cls()
        try:
            results[d.name] = measure(d)
        finally:
            d.stop()
    a, b = results["virtd"], results["libvirtd"]
    print(f"{'':34}{'virtd':>12}{'libvirtd':>12}{'ratio':>8}")
    rows = [("round trip getHostname (us)", "rt", "{:.1f}"),
            (f"{N_DOM}-domain loop (ms)", "loop", "{:.0f}"),
            ("RSS idle (MiB)", "idle", None), (f"RSS with {N_DOM} domains (MiB)", "full", None)]
    for label, k, fmt in rows:
        if fmt is None:
            x, y = a[k] / 1024, b[k] / 1024
            fx, fy = f"{x:.1f}", f"{y:.1f}"
        else:
            x, y = a[k], b[k]
            fx, fy = fmt.format(x), fmt.format(y)
        print(f"{label:34}{fx:>12}{fy:>12}{x / y:>8.2f}")
    per_dom = (a["full"] - a["idle"]) / N_DOM
    print(f"{'virtd KiB per defined domain':34}{per_dom:>12.2f}")
    print(f"{'libvirtd KiB per defined domain':34}{'':>12}{(b['full'] - b['idle']) / N_DOM:>12.2f}")

if __name__ == "__main__":
    main()
