#!/usr/bin/python3
"""Network benchmark (issue 13): network start to first DHCP lease, the same python3-libvirt client against
  (a) virtd (--root TMP) serving qemu:///system, and
  (b) Debian's libvirtd 9.0 under `tini -s` in a private mount namespace,
each daemon inside a network namespace of its own (nothing touches the host's networking). Per repeat, for a bridge with STP
(libvirt's default: the kernel holds a new port for twice its minimum forward delay, 4 s) and without:
  - `net-start` of a NAT network with a DHCP range (the bridge, its address, the firewall, dnsmasq), timed alone;
  - then a client (Debian's dhcpcd, IPv4 only, one shot, no ARP probe) in a third namespace, its veth put on the
    network's bridge as soon as the start returns; timed from the start call until dhcpcd has its lease;
  - `net-destroy` (not timed).
Prints medians and ratios (ours / libvirtd's: below 1 is faster). Usage: net_bench.py PATH/TO/virtd [repeats]
"""
import os, random, statistics, subprocess, sys, time
import libvirt
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_daemons

VIRTD = sys.argv[1] if len(sys.argv) > 1 else ".build/release/virtd"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 10
TAG = "%05d" % random.randrange(100000)
BRIDGE = "svbench0"
MAC = "52:54:00:5b:be:01"

libvirt.registerErrorHandler(lambda *a: None, None)

NET = f"""<network><name>bench</name><forward mode='nat'/><bridge name='{BRIDGE}' stp='{{stp}}'/>
<ip address='192.168.199.1' prefix='24'><dhcp><range start='192.168.199.100' end='192.168.199.200'/></dhcp></ip>
</network>"""


def ip(*args):
    subprocess.run(["/usr/sbin/ip", *args], check=True, stdout=subprocess.DEVNULL)


def dhcp_client(client_ns, dev):
    """dhcpcd in `client_ns`, with private state directories and no hook script; returns when it has a lease."""
    r = subprocess.run(["/usr/sbin/ip", "netns", "exec", client_ns, "/usr/bin/unshare", "-m", "/bin/sh", "-c",
                        "mkdir -p /var/lib/dhcpcd /run/dhcpcd && mount -t tmpfs tmpfs /var/lib/dhcpcd && "
                        "mount -t tmpfs tmpfs /run/dhcpcd && exec /usr/sbin/dhcpcd -4 -1 -A -B -t 30 "
                        f"-c /bin/true -f /dev/null {dev}"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("dhcpcd: " + r.stdout + r.stderr)


def bench(daemon, ns, client_ns, dev_daemon, dev_client, stp):
    conn = libvirt.open(daemon.uri)
    net = conn.networkDefineXML(NET.format(stp=stp))
    start, lease = [], []
    try:
        _bench_loop(daemon, ns, client_ns, dev_daemon, dev_client, net, start, lease)
    finally:
        # A failed repeat leaves the network running: libvirtd would keep its dnsmasq after it stops.
        if net.isActive():
            net.destroy()
        net.undefine()
        conn.close()
    return statistics.median(start), statistics.median(lease)


def _bench_loop(daemon, ns, client_ns, dev_daemon, dev_client, net, start, lease):
    for i in range(N + 1):
        t0 = time.perf_counter()
        net.create()
        t1 = time.perf_counter()
        ip("-n", ns, "link", "set", dev_daemon, "master", BRIDGE, "up")
        dhcp_client(client_ns, dev_client)
        t2 = time.perf_counter()
        # The daemon reports the lease (libvirtd's lease helper records it a moment after dnsmasq answered).
        for _ in range(200):
            leases = net.DHCPLeases(MAC, 0)
            if leases:
                break
            time.sleep(0.01)
        if len(leases) != 1:
            raise RuntimeError(f"{daemon.name}: leases {leases}")
        net.destroy()
        ip("-n", client_ns, "link", "set", dev_client, "down")
        ip("-n", client_ns, "addr", "flush", "dev", dev_client)
        if i > 0:
            start.append((t1 - t0) * 1000)
            lease.append((t2 - t0) * 1000)


def main():
    results = {}
    for name in ("virtd", "libvirtd"):
        ns, client_ns = f"svb{TAG}{name[0]}", f"svb{TAG}{name[0]}c"
        dev_daemon, dev_client = f"svb{TAG}{name[0]}a", f"svb{TAG}{name[0]}b"
        ip("netns", "add", ns)
        ip("netns", "add", client_ns)
        d = None
        try:
            ip("link", "add", dev_daemon, "type", "veth", "peer", "name", dev_client)
            ip("link", "set", dev_daemon, "netns", ns)
            ip("link", "set", dev_client, "netns", client_ns)
            ip("-n", client_ns, "link", "set", dev_client, "address", MAC)
            ip("-n", ns, "link", "set", "lo", "up")
            wrapper = ("/usr/sbin/ip", "netns", "exec", ns)
            if name == "virtd":
                d = bench_daemons.Virtd(VIRTD, "qemu+unix:///system", prefix="netbench-virtd-", wrapper=wrapper)
            else:
                d = bench_daemons.Libvirtd("qemu+unix:///system", prefix="netbench-libvirtd-", wrapper=wrapper,
                                           private_config=True)
            results[name] = [bench(d, ns, client_ns, dev_daemon, dev_client, stp) for stp in ("on", "off")]
        finally:
            if d:
                d.stop()
            subprocess.run(["/usr/sbin/ip", "netns", "del", client_ns])
            subprocess.run(["/usr/sbin/ip", "netns", "del", ns])
    print(f"repeats: {N} (medians, ms)")
    print(f"{'':44} {'virtd':>10} {'libvirtd':>10} {'ratio':>7}")
    for k, stp in enumerate(("STP on, libvirt's default", "STP off")):
        (vs, vl), (ls, ll) = results["virtd"][k], results["libvirtd"][k]
        print(f"{'net-start (NAT, DHCP; ' + stp + ')':44} {vs:10.1f} {ls:10.1f} {vs / ls:7.2f}")
        print(f"{'  net-start to first DHCP lease':44} {vl:10.1f} {ll:10.1f} {vl / ll:7.2f}")


main()
