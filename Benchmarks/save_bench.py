#!/usr/bin/python3
"""Save/restore benchmark: one KVM domain without a guest OS (q35, 256 MiB, 1 vCPU, no disk; SeaBIOS waits),
saved to a file and restored from it, N times each after one warm-up, with the same python3-libvirt client
against
  (a) virtd (--root TMP, QEMU as libvirt-qemu as on Debian),
  (b) Debian's libvirtd 9.0 under `tini -s` in a private mount namespace, with virtlogd,
and (c) bare QEMU driven over QMP only (the "events" migration capability on): save = `stop`,
`migrate-set-parameters` max-bandwidth unlimited (as libvirt), `getfd` + `migrate fd:` into a file, wait for
the MIGRATION event "completed", `quit` and wait for the process to exit (what a daemon's save does: the domain ends shut off);
restore = spawn QEMU with `-incoming defer`, `migrate-incoming fd:N` from the file, wait for "completed",
`cont`, status "running".
Bare QEMU runs twice: (c1) a minimal QEMU (-nodefaults, no devices), and (c2) the very command line virtd gave
its QEMU for the same domain (read from /proc; only the monitor moves from virtd's descriptor to a socket path),
so that the ratio against (c2) is the management layer's cost for the same virtual machine, and the difference
between (c1) and (c2) is what libvirt's default devices (USB controller, balloon, PCIe root ports, the seccomp
sandbox) cost QEMU itself.
virtd and the two bare QEMU rows on its command line take turns cycle by cycle (virtd, bare, bare with fsync,
virtd, ...), so that drift on the machine falls on all three alike: QEMU's own end after `quit` or a signal takes
either about 3.5 ms or 16-23 ms here (the kernel tearing down the KVM VM), on bare QEMU as under a daemon.
The daemons' times are those of the API calls (virDomainSave returns once the domain is shut off and the
image final; virDomainRestore once the domain runs). The domain is transient (createXML), so nothing is
written under /etc/libvirt. Prints medians and ratios. Usage: save_bench.py PATH/TO/virtd [repeats] [kvm|tcg]
(tcg: the test guest under TCG instead, booted to its marker first, so the image carries real memory).
"""
import json, re, os, socket, statistics, subprocess, sys, tempfile, time, shutil
import libvirt
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_daemons

VIRTD = sys.argv[1] if len(sys.argv) > 1 else ".build/release/virtd"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 10
# kvm: no guest OS (SeaBIOS waits; the memory is nearly all zero pages). tcg: the test guest
# (.build/test-guest) booted under TCG to its marker first, so the image carries its kernel and initramfs.
MODE = sys.argv[3] if len(sys.argv) > 3 else "kvm"
QEMU = "/usr/bin/qemu-system-x86_64"
MIB = 256
GUEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".build", "test-guest")
READY = b"SWIFTVIRT-GUEST-READY"

libvirt.registerErrorHandler(lambda *a: None, None)

if MODE == "kvm":
    XML = """<domain type='kvm'><name>{name}</name><memory unit='MiB'>""" + str(MIB) + """</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type></os>
<devices><emulator>""" + QEMU + """</emulator></devices></domain>"""
else:
    GUEST = os.path.realpath(GUEST)
    CMDLINE = open(GUEST + "/cmdline").read().strip()
    XML = """<domain type='qemu'><name>{name}</name><memory unit='MiB'>""" + str(MIB) + """</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type><kernel>""" + GUEST + """/vmlinuz</kernel>
<initrd>""" + GUEST + """/initrd.img</initrd><cmdline>""" + CMDLINE + """</cmdline></os><features><acpi/></features>
<devices><emulator>""" + QEMU + """</emulator><serial type='file'><source path='{serial}'/></serial></devices></domain>"""


def wait_ready(serial, secs=180):
    """Under TCG: until the guest printed its marker."""
    if MODE == "kvm":
        time.sleep(0.5)  # SeaBIOS has run and waits
        return
    end = time.time() + secs
    while time.time() < end:
        try:
            if READY in open(serial, "rb").read():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the test guest did not boot")

VIRTD_CONF = 'log_level = 3\nuser = "libvirt-qemu"\ngroup = "libvirt-qemu"\n'


def Virtd():
    return bench_daemons.Virtd(VIRTD, "qemu+unix:///system", VIRTD_CONF, prefix="sbench-virtd-")


def Libvirtd():
    return bench_daemons.Libvirtd("qemu+unix:///system", virtlogd=True, prefix="sbench-libvirtd-")


def daemon_cycles(daemon):
    """Yields (save s, restore s, image bytes) for one save and restore of the daemon's domain each time."""
    conn = libvirt.open(daemon.uri)
    name = f"sbench-{daemon.name}"
    work = tempfile.mkdtemp(prefix="sbench-img-")
    os.chmod(work, 0o755)
    image = work + "/d.save"
    serial = work + "/serial.log"
    # virtd lets QEMU (libvirt-qemu) open a file chardev itself (libvirt opens it and passes the descriptor):
    # the file must exist and be writable by QEMU's user.
    open(serial, "w").close()
    os.chmod(serial, 0o666)
    sizes = []
    dom = conn.createXML(XML.format(name=name, serial=serial), 0)
    try:
        if daemon.name == "virtd":
            # The command line virtd gave QEMU: bare QEMU runs the same virtual machine in its second row.
            with open(f"{daemon.dir}/run/qemu/{name}.pid") as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                daemon.qemu_argv = [a.decode() for a in f.read().split(b"\0")[:-1]]
        wait_ready(serial)
        while True:
            t = time.perf_counter()
            dom.save(image)
            saved = time.perf_counter() - t
            if name in [d.name() for d in conn.listAllDomains(0)]:
                raise RuntimeError(f"{daemon.name}: {name} still listed after save")
            sizes.append(os.path.getsize(image))
            t = time.perf_counter()
            conn.restore(image)
            restored = time.perf_counter() - t
            dom = conn.lookupByName(name)
            if dom.state()[0] != libvirt.VIR_DOMAIN_RUNNING:
                raise RuntimeError(f"{daemon.name}: {name} not running after restore: {dom.state()}")
            os.unlink(image)
            time.sleep(0.1)
            yield saved, restored, sizes[-1]
    finally:
        try:
            conn.lookupByName(name).destroy()
        except libvirt.libvirtError:
            pass
        conn.close()
        shutil.rmtree(work, ignore_errors=True)


class QMP:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rwb")
        self.f.readline()  # greeting
        self.events = []
        self.cmd("qmp_capabilities")
        self.cmd("migrate-set-capabilities", {"capabilities": [{"capability": "events", "state": True}]})

    def cmd(self, name, args=None, fd=None):
        msg = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        data = json.dumps(msg).encode() + b"\n"
        if fd is None:
            self.f.write(data)
            self.f.flush()
        else:
            socket.send_fds(self.s, [data], [fd])
        while True:
            reply = json.loads(self.f.readline())
            if "event" in reply:
                self.events.append(reply)
            elif "error" in reply:
                raise RuntimeError(f"QMP {name}: {reply['error']}")
            elif "return" in reply:
                return reply["return"]

    events = []

    def wait_migration(self):
        """Waits for the MIGRATION event "completed" (the "events" capability is on; polling query-migrate
        would compete with an incoming migration, which runs in QEMU's main loop)."""
        while True:
            while self.events:
                ev = self.events.pop(0)
                if ev["event"] == "MIGRATION":
                    st = ev["data"]["status"]
                    if st == "completed":
                        return
                    if st in ("failed", "cancelled"):
                        raise RuntimeError(f"migration {st}")
            self.events.append(json.loads(self.f.readline()))


def spawn(argv, sock, pass_fds=()):
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         pass_fds=pass_fds)
    while True:
        try:
            return p, QMP(sock)
        except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError):
            if p.poll() is not None:
                raise RuntimeError(f"bare QEMU exited with {p.returncode}")
            time.sleep(0.0005)


def same_machine(argv, sock, serial):
    """virtd's QEMU command line for bare QEMU: the monitor on a socket path instead of virtd's descriptor, the
    serial file one of bare QEMU's own; everything else (devices, machine, sandbox) unchanged."""
    out = []
    # The domain's master key (virtd's file went with its root): a key of bare QEMU's own, same size.
    key = os.path.dirname(sock) + "/master-key.aes"
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    for a in argv:
        m = re.search(r'"file":"([^"]*master-key\.aes)"', a)
        if m:
            a = a.replace(m.group(1), key)
        if a.startswith("socket,id=charmonitor,fd="):
            a = f"socket,id=charmonitor,path={sock},server=on,wait=off"
        elif a.startswith("file,id=charserial0,path="):
            a = f"file,id=charserial0,path={serial}" + (",append=on" if ",append=on" in a else "")
        out.append(a)
    return out


def bare_cycles(argv=None, durable=False):
    """argv None: a minimal QEMU (-nodefaults, no devices); else virtd's command line for the same domain.
    durable: the image is fsynced before QEMU quits, as both daemons make a save image durable before the
    domain ends (libvirt's I/O helper syncs it; virtd fsyncs it). Yields (save s, restore s, None) per cycle."""
    tmp = tempfile.mkdtemp(prefix="sbench-bare-")
    os.chmod(tmp, 0o755)
    sock = tmp + "/qmp.sock"
    image = tmp + "/d.mig"
    serial = tmp + "/serial.log"
    if argv is None:
        base = [QEMU, "-name", "guest=sbench-bare", "-machine", f"q35,accel={MODE}", "-m", str(MIB),
                "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
                "-qmp", f"unix:{sock},server=on,wait=off"]
        if MODE != "kvm":
            base += ["-kernel", GUEST + "/vmlinuz", "-initrd", GUEST + "/initrd.img", "-append", CMDLINE,
                     "-serial", f"file:{serial}"]
    else:
        base = same_machine(argv, sock, serial)
    p, qmp = spawn(base, sock)
    if "-S" in base:
        qmp.cmd("cont")
    wait_ready(serial)
    try:
        while True:
            # Save: stop, stream into the file through a passed descriptor, quit.
            t = time.perf_counter()
            qmp.cmd("stop")
            # As libvirt and virtd do for saves: no bandwidth limit (QEMU's default is 128 MiB/s).
            qmp.cmd("migrate-set-parameters", {"max-bandwidth": 9223372036853727232})
            fd = os.open(image, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                qmp.cmd("getfd", {"fdname": "migrate"}, fd=fd)
            finally:
                os.close(fd)
            qmp.cmd("migrate", {"uri": "fd:migrate"})
            qmp.wait_migration()
            if durable:
                fd = os.open(image, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            qmp.cmd("quit")
            p.wait()
            saved = time.perf_counter() - t
            qmp.s.close()
            if os.path.exists(sock):
                os.unlink(sock)
            # Restore: a new QEMU loads the file and runs.
            t = time.perf_counter()
            fd = os.open(image, os.O_RDONLY)
            try:
                p, qmp = spawn(base + ["-incoming", "defer"], sock, pass_fds=(fd,))
                qmp.cmd("migrate-incoming", {"uri": f"fd:{fd}"})
                qmp.wait_migration()
            finally:
                os.close(fd)
            qmp.cmd("cont")
            while qmp.cmd("query-status")["status"] != "running":
                time.sleep(0.0005)
            restored = time.perf_counter() - t
            os.unlink(image)
            time.sleep(0.1)
            yield saved, restored, None
    finally:
        try:
            qmp.cmd("quit")
        except (OSError, RuntimeError, ValueError):
            pass
        p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def prepend(first, gen):
    """`first`, then what `gen` yields; closing it closes `gen`."""
    try:
        yield first
        yield from gen
    finally:
        gen.close()


def run_interleaved(cyclers):
    """Runs N + 1 cycles of each (name, generator), taking turns cycle by cycle, so that whatever drifts on the
    machine (load, page cache, the kernel's own pace at tearing down a KVM VM) falls on all of them alike; the
    first cycle of each warms caches and is not counted. Returns {name: (saves, restores, median size)}."""
    out = {name: ([], [], []) for name, _ in cyclers}
    try:
        for i in range(N + 1):
            for name, gen in cyclers:
                saved, restored, size = next(gen)
                if i > 0:
                    out[name][0].append(saved)
                    out[name][1].append(restored)
                    if size is not None:
                        out[name][2].append(size)
    finally:
        for _, gen in cyclers:
            gen.close()
    return {k: (s, r, statistics.median(z) if z else None) for k, (s, r, z) in out.items()}


def main():
    results = {}
    results.update(run_interleaved([("bare QEMU", bare_cycles())]))
    # virtd and bare QEMU on virtd's own command line take turns, cycle by cycle.
    d = Virtd()
    try:
        virtd = daemon_cycles(d)
        first = next(virtd)  # starts the domain: its command line is known from here
        argv = d.qemu_argv
        chained = prepend(first, virtd)
        results.update(run_interleaved([("virtd", chained), ("bare QEMU, virtd's argv", bare_cycles(argv)),
                                        ("bare QEMU, virtd's argv, fsync", bare_cycles(argv, durable=True))]))
    finally:
        d.stop()
    d = Libvirtd()
    try:
        results.update(run_interleaved([("libvirtd", daemon_cycles(d))]))
    finally:
        d.stop()
    ms = lambda xs: statistics.median(xs) * 1000
    what = "KVM domain, no guest OS" if MODE == "kvm" else "TCG domain, the test guest booted"
    print(f"{MIB} MiB {what}; median of {N} runs, ms")
    print(f"{'':32}{'save':>9}{'restore':>9}{'image MiB':>11}")
    for k in ("bare QEMU", "bare QEMU, virtd's argv", "bare QEMU, virtd's argv, fsync", "virtd", "libvirtd"):
        s, r, size = results[k]
        sz = f"{size / 1048576:11.1f}" if size else f"{'':>11}"
        print(f"{k:32}{ms(s):9.1f}{ms(r):9.1f}{sz}")
    vs, vr = ms(results["virtd"][0]), ms(results["virtd"][1])
    bs, br = ms(results["bare QEMU"][0]), ms(results["bare QEMU"][1])
    ls, lr = ms(results["libvirtd"][0]), ms(results["libvirtd"][1])
    print(f"{'ratio virtd / bare':26}{vs / bs:9.2f}{vr / br:9.2f}")
    ss, sr = ms(results["bare QEMU, virtd's argv"][0]), ms(results["bare QEMU, virtd's argv"][1])
    print(f"{'ratio virtd / bare, argv':26}{vs / ss:9.2f}{vr / sr:9.2f}")
    ds, dr = ms(results["bare QEMU, virtd's argv, fsync"][0]), ms(results["bare QEMU, virtd's argv, fsync"][1])
    print(f"{'ratio virtd / bare, argv, fsync':26}{vs / ds:9.2f}{vr / dr:9.2f}")
    print(f"{'ratio virtd / libvirtd':26}{vs / ls:9.2f}{vr / lr:9.2f}")
    print(f"{'ratio libvirtd / bare':26}{ls / bs:9.2f}{lr / br:9.2f}")


if __name__ == "__main__":
    main()
