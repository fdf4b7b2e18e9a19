#!/usr/bin/python3
"""Remote-protocol benchmark: virtd against Debian's libvirtd, same python3-libvirt client, same run.

Starts both daemons (virtd under --root TMP; libvirtd under tini in a private mount namespace with its own
sockets), then measures on the unix socket:
  - the round trip of getHostname (both daemons run getaddrinfo for it, as libvirt does) and of the trivial
    getLibVersion, microseconds per call; and the same two calls against rpc_floor (a C server that answers
    every call at once, built with cc if one is installed): the client's own cost, which no daemon can beat;
  - the 1000-domain loop (defineXML, listAllDomains, listDefinedDomains, XMLDesc, lookupByName+XMLDesc,
    undefine), milliseconds; and listAllDomains + listDefinedDomains with 1000 domains defined;
  - daemon RSS idle (one client connected) and with 1000 domains defined. Most of an idle daemon's RSS is
    mapped code, and how much of it a page fault maps depends on how the executable's pages sit in the page
    cache (a file just written by the linker sits differently than one read from disk), so the cached pages
    of both daemons' executables are dropped (posix_fadvise DONTNEED) before each start, as after a reboot.
The daemons (and the floor server) run side by side and every measurement alternates between them, so a
change of the machine's load weighs on all alike; figures are medians over the rounds.
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

def drop_cached(path):
    """Drops the page-cache pages of `path` (clean ones: the file is synced first)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)

def Virtd():
    drop_cached(VIRTD)
    return bench_daemons.Virtd(VIRTD, "test+unix:///default")

def Libvirtd():
    drop_cached("/usr/sbin/libvirtd")
    return bench_daemons.Libvirtd("test+unix:///default")

XML = """<domain type='test'><name>bench{i}</name><uuid>{u}</uuid><memory unit='KiB'>131072</memory>
<vcpu>1</vcpu><os><type arch='i686'>hvm</type></os></domain>"""

def uuid(i):
    return "b0000000-0000-0000-0000-%012d" % i

def round_trip(call, n=N_RT):
    for _ in range(200):
        call()
    t = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - t) / n * 1e6

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

def lists(conn):
    """listAllDomains + listDefinedDomains, milliseconds."""
    t = time.perf_counter()
    all_ = conn.listAllDomains()
    names = conn.listDefinedDomains()
    assert len(all_) >= N_DOM and len(names) >= N_DOM
    return (time.perf_counter() - t) * 1e3

class Floor:
    """rpc_floor.c, built with cc: answers every call at once (the client's own cost)."""
    name = "floor"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bench-floor-")
        exe = self.dir + "/rpc_floor"
        subprocess.run(["cc", "-O2", "-o", exe,
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "rpc_floor.c")], check=True)
        self.proc = subprocess.Popen([exe, self.dir + "/sock"])
        bench_daemons.wait_for(self.dir + "/sock")
        self.uri = f"test+unix:///default?socket={self.dir}/sock"

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

def main():
    # The targets run side by side and every measurement alternates between them, so that a change of the
    # machine's load during the run weighs on both daemons (and the floor) alike.
    targets = []
    try:
        for cls in (Virtd, Libvirtd):
            targets.append(cls())
        if shutil.which("cc"):
            targets.append(Floor())
        conns = {t.name: libvirt.open(t.uri) for t in targets}
        daemons = [t for t in targets if t.name != "floor"]
        time.sleep(0.3)
        res = {t.name: {"rt": [], "lib": [], "loop": [], "lists": []} for t in targets}
        for d in daemons:
            res[d.name]["idle"] = rss_kib(d.pid)
        for _ in range(ROUNDS):
            for t in targets:
                res[t.name]["rt"].append(round_trip(conns[t.name].getHostname))
                res[t.name]["lib"].append(round_trip(conns[t.name].getLibVersion))
        for _ in range(ROUNDS):
            for d in daemons:
                res[d.name]["loop"].append(domain_loop(conns[d.name]))
        doms = {d.name: [conns[d.name].defineXML(XML.format(i=i, u=uuid(i))) for i in range(N_DOM)] for d in daemons}
        time.sleep(0.2)
        for d in daemons:
            res[d.name]["full"] = rss_kib(d.pid)
        for _ in range(4 * ROUNDS):
            for d in daemons:
                res[d.name]["lists"].append(lists(conns[d.name]))
        for d in daemons:
            for dom in doms[d.name]:
                dom.undefine()
        for c in conns.values():
            c.close()
    finally:
        for t in targets:
            t.stop()
    med = {n: {k: (statistics.median(v) if isinstance(v, list) and v else v) for k, v in r.items()}
           for n, r in res.items()}
    a, b = med["virtd"], med["libvirtd"]
    fl = med.get("floor")
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(f"{'':40}{'virtd':>10}{'libvirtd':>10}{'ratio':>8}")
    rows = [("round trip getHostname (us)", "rt", "{:.1f}"),
            ("round trip getLibVersion (us)", "lib", "{:.1f}"),
            (f"{N_DOM}-domain loop (ms)", "loop", "{:.0f}"),
            (f"listAll+listDefined, {N_DOM} doms (ms)", "lists", "{:.2f}"),
            ("RSS idle (MiB)", "idle", None), (f"RSS with {N_DOM} domains (MiB)", "full", None)]
    for label, k, fmt in rows:
        if fmt is None:
            x, y = a[k] / 1024, b[k] / 1024
            fx, fy = f"{x:.1f}", f"{y:.1f}"
        else:
            x, y = a[k], b[k]
            fx, fy = fmt.format(x), fmt.format(y)
        print(f"{label:40}{fx:>10}{fy:>10}{x / y:>8.2f}")
    print(f"{'KiB per defined domain':40}{(a['full'] - a['idle']) / N_DOM:>10.2f}"
          f"{(b['full'] - b['idle']) / N_DOM:>10.2f}")
    if fl:
        print(f"client floor (rpc_floor.c): getHostname {fl['rt']:.1f} us, getLibVersion {fl['lib']:.1f} us")
        for k, label in (("rt", "getHostname"), ("lib", "getLibVersion")):
            print(f"  {label} above the floor (us): virtd {a[k] - fl[k]:.1f}, libvirtd {b[k] - fl[k]:.1f}")

if __name__ == "__main__":
    main()
