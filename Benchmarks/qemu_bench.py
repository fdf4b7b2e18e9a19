#!/usr/bin/python3
"""QEMU lifecycle benchmark: start-to-running and destroy-to-exited of one minimal domain (q35, 128 MiB,
1 vCPU, no disk, KVM), 10 repeats each, through the same python3-libvirt client against
  (a) virtd (--root TMP, qemu+unix:///system?socket=TMP/run/virtd-sock),
  (b) Debian's libvirtd under `tini -s` in a private mount namespace (tmpfs on /run/libvirt and
      /var/lib/libvirt, virtlogd started in the same namespace),
and (c) bare QEMU with the same hardware and a QMP socket (spawn to QMP status "running"; "quit" to exit).
Prints medians and the overhead of each daemon over bare QEMU. Usage: qemu_bench.py PATH/TO/virtd [repeats]
"""
import json, os, signal, socket, statistics, subprocess, sys, tempfile, time, shutil
import libvirt
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_daemons

VIRTD = sys.argv[1] if len(sys.argv) > 1 else ".build/release/virtd"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 10
QEMU = "/usr/bin/qemu-system-x86_64"

libvirt.registerErrorHandler(lambda *a: None, None)

XML = """<domain type='kvm'><name>{name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type></os>
<devices><emulator>""" + QEMU + """</emulator></devices></domain>"""

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False

def qemu_pid(name):
    """The pid of the QEMU whose command line names the guest `name`."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"qemu-system-x86_64") and any(f"guest={name}".encode() in a for a in argv):
            return int(d)
    return None

# QEMU runs as libvirt's does on Debian: libvirt-qemu under the DAC driver.
VIRTD_CONF = 'log_level = 3\nuser = "libvirt-qemu"\ngroup = "libvirt-qemu"\n'

# The same with libvirt's cgroup placement (what the system daemon does by default, as libvirtd does): the
# difference is the cgroup cost per start and destroy.
CGROUPS = 'cgroup_controllers = [ "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio" ]\n'

def Virtd():
    return bench_daemons.Virtd(VIRTD, "qemu+unix:///system", VIRTD_CONF, prefix="qbench-virtd-")

def VirtdCgroups():
    d = bench_daemons.Virtd(VIRTD, "qemu+unix:///system", VIRTD_CONF + CGROUPS, prefix="qbench-virtdcg-")
    d.name = "virtd, cgroups"
    return d

def Libvirtd():
    return bench_daemons.Libvirtd("qemu+unix:///system", virtlogd=True, prefix="qbench-libvirtd-")

def bench_daemon(daemon):
    conn = libvirt.open(daemon.uri)
    name = f"qbench-{daemon.name.replace(', ', '-')}"
    dom = conn.defineXML(XML.format(name=name))
    # One warm-up cycle (capability probe, caches), not counted.
    dom.create()
    dom.destroy()
    starts, destroys = [], []
    for _ in range(N):
        t = time.perf_counter()
        dom.create()
        starts.append(time.perf_counter() - t)
        if dom.state()[0] != libvirt.VIR_DOMAIN_RUNNING:
            raise RuntimeError(f"{daemon.name}: {name} not running after create")
        pid = qemu_pid(name)
        if pid is None:
            raise RuntimeError(f"{daemon.name}: no QEMU process for {name}")
        if daemon.name.startswith("virtd") and os.stat(f"/proc/{pid}").st_uid == 0:
            raise RuntimeError("virtd: QEMU runs as root, not as libvirt-qemu")
        if daemon.name == "virtd, cgroups":
            with open(f"/proc/{pid}/cgroup") as f:
                if f"qemu-" not in f.read():
                    raise RuntimeError("virtd, cgroups: QEMU is not in a machine cgroup")
        t = time.perf_counter()
        dom.destroy()
        while alive(pid):
            time.sleep(0.0005)
        if dom.state()[0] != libvirt.VIR_DOMAIN_SHUTOFF:
            raise RuntimeError(f"{daemon.name}: {name} not shut off after destroy")
        destroys.append(time.perf_counter() - t)
        time.sleep(0.1)
    dom.undefine()
    conn.close()
    return starts, destroys

class QMP:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rwb")
        self.f.readline()  # greeting
        self.cmd("qmp_capabilities")
    def cmd(self, name):
        self.f.write(json.dumps({"execute": name}).encode() + b"\n")
        self.f.flush()
        while True:
            msg = json.loads(self.f.readline())
            if "return" in msg or "error" in msg:
                return msg

def bench_bare():
    tmp = tempfile.mkdtemp(prefix="qbench-bare-")
    sock = tmp + "/qmp.sock"
    argv = [QEMU, "-name", "guest=qbench-bare", "-machine", "q35,accel=kvm", "-m", "128",
            "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
            "-qmp", f"unix:{sock},server=on,wait=off"]
    starts, destroys = [], []
    try:
        for i in range(N + 1):
            t = time.perf_counter()
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            qmp = None
            while qmp is None:
                try:
                    qmp = QMP(sock)
                except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError):
                    if p.poll() is not None:
                        raise RuntimeError(f"bare QEMU exited with {p.returncode}")
                    time.sleep(0.0005)
            while qmp.cmd("query-status")["return"]["status"] != "running":
                time.sleep(0.0005)
            started = time.perf_counter() - t
            t = time.perf_counter()
            qmp.cmd("quit")
            p.wait()
            destroyed = time.perf_counter() - t
            qmp.s.close()
            if os.path.exists(sock):
                os.unlink(sock)
            if i > 0:  # the first run warms the page cache
                starts.append(started)
                destroys.append(destroyed)
            time.sleep(0.1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return starts, destroys

def main():
    results = {}
    results["bare QEMU"] = bench_bare()
    for cls in (Virtd, VirtdCgroups, Libvirtd):
        d = cls()
        try:
            results[d.name] = bench_daemon(d)
        finally:
            d.stop()
    ms = lambda xs: statistics.median(xs) * 1000
    bs, bd = ms(results["bare QEMU"][0]), ms(results["bare QEMU"][1])
    print(f"median of {N} runs, ms          {'start':>8}{'destroy':>9}{'start-bare':>12}{'destroy-bare':>14}")
    for k in ("bare QEMU", "virtd", "virtd, cgroups", "libvirtd"):
        s, d = ms(results[k][0]), ms(results[k][1])
        print(f"{k:30}{s:8.1f}{d:9.1f}{s - bs:12.1f}{d - bd:14.1f}")
    vs, vd = ms(results["virtd"][0]), ms(results["virtd"][1])
    ls, ld = ms(results["libvirtd"][0]), ms(results["libvirtd"][1])
    print(f"{'ratio virtd / libvirtd':30}{vs / ls:8.2f}{vd / ld:9.2f}"
          f"{(vs - bs) / max(ls - bs, 1e-9):12.2f}{(vd - bd) / max(ld - bd, 1e-9):14.2f}")
    cs, cd = ms(results["virtd, cgroups"][0]), ms(results["virtd, cgroups"][1])
    print(f"{'ratio virtd, cgroups / libvirtd':30}{cs / ls:8.2f}{cd / ld:9.2f}"
          f"{(cs - bs) / max(ls - bs, 1e-9):12.2f}{(cd - bd) / max(ld - bd, 1e-9):14.2f}")
    print(f"{'cgroup cost per start, destroy':30}{cs - vs:8.1f}{cd - vd:9.1f}")

if __name__ == "__main__":
    main()
