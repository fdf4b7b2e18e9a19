#!/usr/bin/python3
"""TPM start benchmark: steady-state start of a minimal KVM domain (q35, 128 MiB, 1 vCPU, no disk) with and
without an emulated TPM 2.0 (swtpm, state already manufactured by a warm-up start), N repeats each, through
the same python3-libvirt client against virtd and Debian's libvirtd 9.0 in one run (both as in
qemu_bench.py: QEMU as libvirt-qemu, swtpm as tss). Start is create() returning; each start is followed by a
destroy that waits for QEMU (and swtpm) to be gone. Prints medians, the TPM's overhead over the plain start
for each daemon, and the ratios. Usage: tpm_bench.py PATH/TO/virtd [repeats]
"""
import os, statistics, sys, time
import libvirt
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_daemons
import qemu_bench

N = int(sys.argv[2]) if len(sys.argv) > 2 else 10

PLAIN = qemu_bench.XML
TPM = PLAIN.replace("<devices>", "<devices><tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>")

def swtpm_pids():
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm") as f:
                    if f.read().strip() == "swtpm":
                        out.append(int(d))
            except OSError:
                pass
    return out

def cycle(conn, xml, name, daemon):
    dom = conn.defineXML(xml.format(name=name))
    dom.create()  # warm-up: capabilities, swtpm_setup manufactures the state
    dom.destroy()
    starts = []
    for _ in range(N):
        t = time.perf_counter()
        dom.create()
        starts.append(time.perf_counter() - t)
        if dom.state()[0] != libvirt.VIR_DOMAIN_RUNNING:
            raise RuntimeError(f"{daemon}: {name} not running")
        pid = qemu_bench.qemu_pid(name)
        dom.destroy()
        while pid and qemu_bench.alive(pid):
            time.sleep(0.0005)
        time.sleep(0.1)
    try:
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_TPM)
    except libvirt.libvirtError:
        dom.undefine()
    return starts

def main():
    before = set(swtpm_pids())
    res = {}
    for cls in (qemu_bench.Virtd, qemu_bench.Libvirtd):
        d = cls()
        try:
            # The swtpm user (tss) must be able to reach its state, log and socket under the daemon's root.
            os.chmod(d.dir, 0o755)
            conn = libvirt.open(d.uri)
            res[(d.name, "plain")] = cycle(conn, PLAIN, f"tbench-{d.name}-plain", d.name)
            res[(d.name, "tpm")] = cycle(conn, TPM, f"tbench-{d.name}-tpm", d.name)
            conn.close()
        finally:
            d.stop()
    left = set(swtpm_pids()) - before
    if left:
        print(f"warning: swtpm processes left: {sorted(left)}")
    ms = lambda xs: statistics.median(xs) * 1000
    print(f"median of {N} starts, ms       {'plain':>8}{'TPM':>8}{'TPM - plain':>13}")
    for k in ("virtd", "libvirtd"):
        p, t = ms(res[(k, "plain")]), ms(res[(k, "tpm")])
        print(f"{k:30}{p:8.1f}{t:8.1f}{t - p:13.1f}")
    vp, vt = ms(res[("virtd", "plain")]), ms(res[("virtd", "tpm")])
    lp, lt = ms(res[("libvirtd", "plain")]), ms(res[("libvirtd", "tpm")])
    print(f"{'ratio virtd / libvirtd':30}{vp / lp:8.2f}{vt / lt:8.2f}")

if __name__ == "__main__":
    main()
