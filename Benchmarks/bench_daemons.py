"""The two daemons the benchmarks compare, started the same way for every benchmark.

Virtd: our daemon under --root TMP. Libvirtd: Debian's libvirtd under `tini -s` in a private mount namespace
(tmpfs on /run/libvirt and /var/lib/libvirt, so several copies never share pid files), with its own sockets
and, for the QEMU driver, virtlogd started in the same namespace.

Both take an optional `wrapper`, a command prefix the daemon runs under (e.g. valgrind), and `timeout`, the
seconds allowed for start and for stop (a daemon under valgrind is some 50 times slower), and `log`, a file
for the daemon's output (discarded without).
"""
import os, shlex, signal, subprocess, tempfile, time, shutil


def wait_for(path, secs=30):
    end = time.time() + secs
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.01)
    return False


class Virtd:
    name = "virtd"

    def __init__(self, binary, driver_uri, conf="log_level = 3\n", prefix="bench-virtd-", wrapper=(),
                 timeout=30, log=None):
        """driver_uri: e.g. 'test+unix:///default' or 'qemu+unix:///system'."""
        self.timeout = timeout
        self.dir = tempfile.mkdtemp(prefix=prefix)
        # QEMU runs as its own user and must reach its files under the root (mkdtemp makes it 0700).
        os.chmod(self.dir, 0o755)
        os.makedirs(self.dir + "/etc")
        with open(self.dir + "/etc/virtd.conf", "w") as f:
            f.write(conf)
        out = open(log, "ab") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen([*wrapper, binary, "--root", self.dir], stdout=out, stderr=out)
        if log:
            out.close()
        if not wait_for(self.dir + "/run/virtd.pid", timeout):
            self.proc.kill()
            raise RuntimeError("virtd did not start")
        self.pid = self.proc.pid
        self.uri = f"{driver_uri}?socket={self.dir}/run/virtd-sock"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(max(10, self.timeout))
        shutil.rmtree(self.dir, ignore_errors=True)


class Libvirtd:
    name = "libvirtd"

    def __init__(self, driver_uri, virtlogd=False, prefix="bench-libvirtd-", wrapper=(), timeout=30, log=None,
                 private_config=False):
        """private_config: a tmpfs over /etc/libvirt/qemu too (libvirtd keeps network and domain definitions
        there), for benchmarks that define them."""
        self.timeout = timeout
        self.dir = tempfile.mkdtemp(prefix=prefix)
        with open(self.dir + "/libvirtd.conf", "w") as f:
            f.write(f'unix_sock_dir = "{self.dir}"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
                    'listen_tcp = 0\nlisten_tls = 0\n')
        logd = f"/usr/sbin/virtlogd -d -p {self.dir}/virtlogd.pid && " if virtlogd else ""
        etc = "mount -t tmpfs tmpfs /etc/libvirt/qemu && " if private_config else ""
        inner = ("mount -t tmpfs tmpfs /run/libvirt && mount -t tmpfs tmpfs /var/lib/libvirt && " + etc + logd +
                 "exec /usr/bin/tini -s -- " + "".join(shlex.quote(w) + " " for w in wrapper) +
                 f"/usr/sbin/libvirtd -f {self.dir}/libvirtd.conf -p {self.dir}/pid")
        out = open(log, "ab") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "/bin/sh", "-c", inner],
                                     stdout=out, stderr=out)
        if log:
            out.close()
        if not (wait_for(self.dir + "/libvirt-sock", timeout) and wait_for(self.dir + "/pid", timeout)):
            self.proc.kill()
            raise RuntimeError("libvirtd did not start")
        time.sleep(0.2)
        self.pid = int(open(self.dir + "/pid").read().strip())
        self.uri = f"{driver_uri}?socket={self.dir}/libvirt-sock"

    def stop(self):
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.proc.wait(max(15, self.timeout))
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(5)
        try:
            os.kill(int(open(self.dir + "/virtlogd.pid").read().strip()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
