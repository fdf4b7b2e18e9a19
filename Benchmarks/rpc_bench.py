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

VIRTD = sys.argv[1] if len(sys.argv) > 1 else ".build/release/virtd"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
N_RT = 20000
N_DOM = 1000

libvirt.registerErrorHandler(lambda *a: None, None)

def wait_for(path, secs=30):
    end = time.time() + secs
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.02)
    return False

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1

class Virtd:
    name = "virtd"
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bench-virtd-")
        os.makedirs(self.dir + "/etc")
        with open(self.dir + "/etc/virtd.conf", "w") as f:
            f.write("log_level = 3\n")
        self.proc = subprocess.Popen([VIRTD, "--root", self.dir], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        if not wait_for(self.dir + "/run/virtd.pid"):
            raise RuntimeError("virtd did not start")
        self.uri = f"test+unix:///default?socket={self.dir}/run/virtd-sock"
        self.pid = self.proc.pid
    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

class Libvirtd:
    name = "libvirtd"
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bench-libvirtd-")
        with open(self.dir + "/libvirtd.conf", "w") as f:
            f.write(f'unix_sock_dir = "{self.dir}"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
                    'listen_tcp = 0\nlisten_tls = 0\n')
        inner = ("mount -t tmpfs tmpfs /run/libvirt && mount -t tmpfs tmpfs /var/lib/libvirt && "
                 f"exec /usr/bin/tini -s -- /usr/sbin/libvirtd -f {self.dir}/libvirtd.conf -p {self.dir}/pid")
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "/bin/sh", "-c", inner],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not (wait_for(self.dir + "/libvirt-sock") and wait_for(self.dir + "/pid")):
            raise RuntimeError("libvirtd did not start")
        time.sleep(0.2)
        self.pid = int(open(self.dir + "/pid").read().strip())
        self.uri = f"test+unix:///default?socket={self.dir}/libvirt-sock"
    def stop(self):
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)

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
            results[cls.name] = measure(d)
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
