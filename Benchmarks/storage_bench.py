#!/usr/bin/python3
"""Storage benchmark (issue 13): the same python3-libvirt client against
  (a) virtd (--root TMP) serving qemu:///system, and
  (b) Debian's libvirtd 9.0 under `tini -s` in a private mount namespace,
each with a dir pool of its own in a fresh directory on the same file system:
  - vol-create of a 10 GiB qcow2 volume (qemu-img with libvirt's options), then vol-delete (not timed);
  - vol-download of a 1 GiB raw volume filled with data (not sparse), read whole through the stream
    (`virStorageVolDownload`, the client receives every byte; MiB/s reported too).
Prints medians and ratios (ours / libvirtd's: below 1 is faster). Usage: storage_bench.py PATH/TO/virtd [repeats]
"""
import os, statistics, sys, time
import libvirt
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_daemons

VIRTD = sys.argv[1] if len(sys.argv) > 1 else ".build/release/virtd"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 10
GIB = 1 << 30
CHUNK = 256 * 1024

libvirt.registerErrorHandler(lambda *a: None, None)

POOL = """<pool type='dir'><name>bench</name><target><path>{path}</path></target></pool>"""
QCOW2 = """<volume><name>{name}</name><capacity unit='GiB'>10</capacity>
<target><format type='qcow2'/></target></volume>"""
RAW = """<volume><name>data.raw</name><capacity unit='GiB'>1</capacity><allocation unit='GiB'>1</allocation>
<target><format type='raw'/></target></volume>"""


def fill(path):
    """1 GiB of non-zero data, so that neither side can skip holes."""
    block = bytes((i * 7 + 1) & 0xFF for i in range(1 << 20))
    with open(path, "r+b") as f:
        for _ in range(GIB >> 20):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())


def bench(daemon):
    conn = libvirt.open(daemon.uri)
    path = daemon.dir + "/pool"
    os.makedirs(path)
    pool = conn.storagePoolDefineXML(POOL.format(path=path), 0)
    pool.create(0)
    create = []
    for i in range(N + 1):
        t = time.perf_counter()
        vol = pool.createXML(QCOW2.format(name=f"big{i}.qcow2"), 0)
        dt = time.perf_counter() - t
        vol.delete(0)
        if i > 0:
            create.append(dt * 1000)
    raw = pool.createXML(RAW, 0)
    fill(raw.path())
    download = []
    for i in range(max(3, N // 2) + 1):
        st = conn.newStream(0)
        t = time.perf_counter()
        raw.download(st, 0, 0, 0)
        got = 0
        while True:
            b = st.recv(CHUNK)
            if not b:
                break
            got += len(b)
        st.finish()
        dt = time.perf_counter() - t
        if got != GIB:
            raise RuntimeError(f"{daemon.name}: downloaded {got} bytes")
        if i > 0:
            download.append(dt * 1000)
    raw.delete(0)
    pool.destroy()
    pool.undefine()
    conn.close()
    return statistics.median(create), statistics.median(download)


def main():
    results = {}
    for make in (lambda: bench_daemons.Virtd(VIRTD, "qemu+unix:///system", prefix="stbench-virtd-"),
                 lambda: bench_daemons.Libvirtd("qemu+unix:///system", prefix="stbench-libvirtd-")):
        d = make()
        try:
            results[d.name] = bench(d)
        finally:
            d.stop()
    (vc, vd), (lc, ld) = results["virtd"], results["libvirtd"]
    print(f"repeats: {N} vol-create, {max(3, N // 2)} vol-download (medians, ms)")
    print(f"{'':28} {'virtd':>10} {'libvirtd':>10} {'ratio':>7}")
    print(f"{'vol-create 10 GiB qcow2':28} {vc:10.1f} {lc:10.1f} {vc / lc:7.2f}")
    print(f"{'vol-download 1 GiB raw':28} {vd:10.1f} {ld:10.1f} {vd / ld:7.2f}")
    print(f"{'  (MiB/s)':28} {1024 / (vd / 1000):10.0f} {1024 / (ld / 1000):10.0f}")


main()
