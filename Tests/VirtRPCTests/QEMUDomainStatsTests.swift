import Foundation
import Testing
import VirtTestSupport
import Virt
import VirtCore
@testable import VirtRPC

#if canImport(Glibc)
import Glibc
#endif

/// `virConnectGetAllDomainStats` (remote procedure 344) on QEMU domains: a running KVM domain (no guest OS:
/// SeaBIOS waits) with a raw virtio disk, a user-mode NIC and a balloon, and a shut-off one, through virtd and
/// through Debian's libvirtd 9.0 for the same XML. The field names and typed-parameter types (read with our
/// remote driver, which keeps the wire types) must be the same; values are checked for plausibility with
/// Debian's virsh and python3-libvirt.
@Suite("QEMU domain stats: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .kvm, .root, .referenceLibvirtd))
struct QEMUDomainStatsTests {
    /// Every group (0: all the daemon supports).
    static let groups = StatsTypes(rawValue: 0)

    static func domainXML(name: String, image: String) -> String {
        """
        <domain type='kvm'><name>\(name)</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='q35'>hvm</type></os><devices>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(image)'/>\
        <target dev='vda' bus='virtio'/></disk>
        <interface type='user'><model type='virtio'/></interface>
        <memballoon model='virtio'/></devices></domain>
        """
    }

    /// Defines `off` (left shut off) and creates `run` (transient, running) on a daemon, images under `dir`.
    static func setUp(_ virsh: (String) throws -> ChildProcess.Result, dir: String) throws {
        for (name, verb) in [("stoff", "define"), ("strun", "create")] {
            let image = try QEMUDaemonSupport.makeImage(dir + "/\(name).img", owner: (0, 0))
            chmod(image, 0o666)
            let xml = dir + "/\(name).xml"
            try domainXML(name: name, image: image).write(toFile: xml, atomically: true, encoding: .utf8)
            let r = try virsh("\(verb) \(xml)")
            #expect(r.status == 0, "\(verb) \(name): \(r.stderr)")
        }
    }

    /// name → field → type code, through our remote driver (exact wire types).
    static func fieldTypes(_ uri: String) async throws -> [String: [String: Int32]] {
        let conn = try await Connection.open(uri)
        let recs: [DomainStatsRecord]
        do {
            recs = try await conn.driver.allDomainStats(domains: nil, types: groups, flags: [])
        } catch {
            await conn.close()
            throw error
        }
        await conn.close()
        var out: [String: [String: Int32]] = [:]
        for r in recs {
            var m: [String: Int32] = [:]
            for p in r.params { m[p.field] = p.value.typeCode }
            out[r.domain.name] = m
        }
        return out
    }

    /// Field names of `virsh domstats` output, per domain.
    static func virshFields(_ text: String) -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        var current = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("Domain: '") {
                current = String(line.dropFirst(9).dropLast())
            } else if let eq = line.firstIndex(of: "=") {
                out[current, default: []].insert(line[..<eq].trimmingCharacters(in: .whitespaces))
            }
        }
        return out
    }

    @Test("field names and types equal libvirtd's for a running and a shut-off KVM domain; values plausible")
    func sameFieldsAsLibvirtd() async throws {
        try TestHost.requireKVM()
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }

        try Self.setUp({ try ours.virsh($0) }, dir: ours.dir)
        try Self.setUp({ try virsh(ref.uri, $0) }, dir: ref.dir)

        let refTypes = try await Self.fieldTypes(ref.uri)
        let ourTypes = try await Self.fieldTypes(ours.uri)
        for name in ["stoff", "strun"] {
            let r = try #require(refTypes[name], "libvirtd has no record for \(name)")
            let o = try #require(ourTypes[name], "virtd has no record for \(name)")
            let onlyRef = r.filter { o[$0.key] != $0.value }.keys.sorted()
            let onlyOurs = o.filter { r[$0.key] != $0.value }.keys.sorted()
            #expect(onlyRef.isEmpty && onlyOurs.isEmpty,
                    "\(name): differing fields: libvirtd \(onlyRef.map { "\($0):\(r[$0] ?? 0)" }) virtd \(onlyOurs.map { "\($0):\(o[$0] ?? 0)" })")
        }

        // Debian's virsh: the same field names, and plausible values.
        let args = "domstats --raw --state --cpu-total --balloon --vcpu --interface --block"
        let refOut = try virsh(ref.uri, args)
        let ourOut = try ours.virsh(args)
        #expect(refOut.status == 0 && ourOut.status == 0, "\(refOut.stderr) \(ourOut.stderr)")
        #expect(Self.virshFields(ourOut.stdout) == Self.virshFields(refOut.stdout))
        // --backing and --nowait are accepted; with a raw image (no backing chain) the fields are the same.
        let backingArgs = "domstats --raw --block --backing --nowait"
        let refBacking = try virsh(ref.uri, backingArgs)
        let ourBacking = try ours.virsh(backingArgs)
        #expect(refBacking.status == 0 && ourBacking.status == 0, "\(refBacking.stderr) \(ourBacking.stderr)")
        #expect(Self.virshFields(ourBacking.stdout) == Self.virshFields(refBacking.stdout))
        #expect(ourOut.stdout.contains("block.0.path=\(ours.dir)/strun.img"))
        #expect(ourOut.stdout.contains("block.0.path=\(ours.dir)/stoff.img"))

        // Filters: only the shut-off one, only the running one; enforce refuses an unsupported group.
        let off = try ours.virsh("domstats --list-shutoff --state")
        #expect(Self.virshFields(off.stdout).keys.sorted() == ["stoff"])
        #expect(off.stdout.contains("state.state=5"))
        let running = try ours.virsh("domstats --list-running --state")
        #expect(Self.virshFields(running.stdout).keys.sorted() == ["strun"])
        #expect(running.stdout.contains("state.state=1\n  state.reason=1"))
        // enforce: a group unknown to both daemons is refused with libvirtd's words; without enforce it is ignored.
        let enforce = """
        import libvirt, sys
        c = libvirt.open(sys.argv[1])
        print(len(c.getAllDomainStats(1 << 12, 0)))
        try:
            c.getAllDomainStats(1 << 12, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS)
        except libvirt.libvirtError as e:
            print(e.get_error_code(), e.get_error_message())
        """
        let refEnforce = try ChildProcess.run(["/usr/bin/python3", "-c", enforce, ref.uri])
        let ourEnforce = try ChildProcess.run(["/usr/bin/python3", "-c", enforce, ours.uri])
        #expect(refEnforce.stdout.contains("not supported by this daemon"), "\(refEnforce.stdout) \(refEnforce.stderr)")
        #expect(ourEnforce.stdout == refEnforce.stdout, "\(ourEnforce.stderr)")

        // python3-libvirt: cpu.time > 0 and grows, state matches, block path is the image, balloon sizes.
        let script = """
        import libvirt, sys, time
        c = libvirt.open(sys.argv[1])
        def rec(name):
            for d, st in c.getAllDomainStats(0, 0):
                if d.name() == name: return st
        a = rec('strun')
        assert a['state.state'] == libvirt.VIR_DOMAIN_RUNNING, a
        assert a['cpu.time'] > 0 and a['cpu.time'] >= a['cpu.user'] and a['cpu.time'] >= a['cpu.system'], a
        assert a['block.count'] == 1 and a['block.0.path'] == sys.argv[2] + '/strun.img', a
        assert a['block.0.capacity'] == 1 << 20, a
        assert a['balloon.current'] == 131072 and a['balloon.maximum'] == 131072 and a['balloon.rss'] > 0, a
        assert a['vcpu.current'] == 1 and a['vcpu.0.state'] == 1, a
        assert a['net.count'] == 1, a
        for i in range(600):
            b = rec('strun')
            if b['cpu.time'] > a['cpu.time']: break
            time.sleep(0.1)
        assert b['cpu.time'] > a['cpu.time'], (a['cpu.time'], b['cpu.time'])
        s = rec('stoff')
        assert s['state.state'] == libvirt.VIR_DOMAIN_SHUTOFF, s
        assert s['block.0.path'] == sys.argv[2] + '/stoff.img' and s['balloon.maximum'] == 131072, s
        assert 'vcpu.0.state' not in s and 'net.count' not in s, s
        d = c.lookupByName('strun')
        info = d.info()
        assert info[0] == libvirt.VIR_DOMAIN_RUNNING and info[2] == 131072 and info[4] > 0, info
        print('ok')
        """
        let py = try ChildProcess.run(["/usr/bin/python3", "-c", script, ours.uri, ours.dir], timeLimit: 120)
        #expect(py.status == 0 && py.stdout.contains("ok"), "\(py.stdout) \(py.stderr)")

        // virsh dominfo: a CPU time line and the balloon's size, as libvirtd shows them.
        let info = try ours.virsh("dominfo strun")
        #expect(info.stdout.contains("CPU time:"))
        #expect(info.stdout.contains("Used memory:    131072 KiB"))

        // Paused: the same fields as libvirtd's, the paused filter, a named domain.
        #expect(try ours.virsh("suspend strun").status == 0)
        #expect(try virsh(ref.uri, "suspend strun").status == 0)
        let refPaused = try await Self.fieldTypes(ref.uri)
        let ourPaused = try await Self.fieldTypes(ours.uri)
        #expect(refPaused["strun"] == ourPaused["strun"],
                "paused: \(Set(refPaused["strun"]?.keys.map { $0 } ?? []).symmetricDifference(ourPaused["strun"]?.keys.map { $0 } ?? []))")
        let paused = try ours.virsh("domstats --list-paused --state")
        #expect(Self.virshFields(paused.stdout).keys.sorted() == ["strun"])
        #expect(paused.stdout.contains("state.state=3\n  state.reason=1"))
        let named = try ours.virsh("domstats --state stoff")
        #expect(Self.virshFields(named.stdout).keys.sorted() == ["stoff"])

        _ = try? ours.virsh("destroy strun")
        _ = try? virsh(ref.uri, "destroy strun")
    }
}

/// Debian's libvirtd able to run QEMU domains: under `tini -s` in a private mount namespace with its own
/// /run/libvirt, /var/lib/libvirt and /etc/libvirt/qemu (no definitions leak to the host), and virtlogd
/// (QEMU's log handler) started beside it. `stop()` ends both by their pid files and removes the directory.
final class StatsReferenceLibvirtd {
    let dir: String
    private var process: ChildProcess?
    var uri: String { "qemu+unix:///system?socket=\(dir)/libvirt-sock" }

    init() throws {
        dir = try TestPaths.makeTempDir("ql", mode: 0o755)
        try ReferenceLibvirtd.writeConfig(dir: dir)
        let inner = "mkdir -p -m 0755 /run/libvirt && mount -t tmpfs tmpfs /run/libvirt && mount -t tmpfs tmpfs /var/lib/libvirt && "
            + "mount -t tmpfs tmpfs /etc/libvirt/qemu && exec /usr/bin/tini -s -- /bin/sh -c "
            + "\"/usr/sbin/virtlogd -p '\(dir)/virtlogd.pid' & exec /usr/sbin/libvirtd -f '\(dir)/libvirtd.conf' -p '\(dir)/pid'\""
        process = try ChildProcess.spawn(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", inner],
                                         output: .file(dir + "/stderr.log"))
        guard waitFor(path: dir + "/libvirt-sock"), waitFor(path: dir + "/pid"),
              waitFor(path: dir + "/virtlogd.pid") else {
            stop()
            throw DaemonError.notStarted("libvirtd: \((try? String(contentsOfFile: dir + "/stderr.log", encoding: .utf8)) ?? "")")
        }
    }

    private func pid(_ file: String) -> Int32? {
        Int32((try? String(contentsOfFile: dir + "/" + file, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
    }

    /// QEMUs whose command line names a file under our directory (their disk images).
    private func qemuProcesses() -> [Int32] {
        ProcFS.qemuProcesses(whose: "cmdline", contains: dir + "/")
    }

    func stop() {
        guard let proc = process else { return }
        process = nil
        // QEMUs libvirtd started (found by their environment under our dir), then virtlogd, then libvirtd.
        for q in qemuProcesses() { kill(q, SIGKILL) }
        if let v = pid("virtlogd.pid") { ProcFS.kill(v, SIGTERM, ifExecutable: "virtlogd") }
        proc.terminate(signalPID: pid("pid"))
        try? FileManager.default.removeItem(atPath: dir)
    }

    deinit { stop() }
}
