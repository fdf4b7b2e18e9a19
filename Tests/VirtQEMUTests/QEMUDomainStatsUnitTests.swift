import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// The /proc and image readers of ``QEMUDomainStats`` on real files: this process stands in for QEMU, a host
/// network device for a tap (its counters seen swapped, as libvirt does), a real qcow2 image for a disk.
@Suite("QEMU domain stats: /proc and image readers")
struct QEMUDomainStatsUnitTests {
    static func def(_ devices: String) throws -> DomainDefinition {
        try DomainDefinition.parse("""
        <domain type='kvm'><name>u</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
        <os><type arch='x86_64'>hvm</type></os><devices>\(devices)</devices></domain>
        """)
    }

    static func value(_ p: [TypedParam], _ name: String) -> TypedParam.Value? {
        p.first { $0.field == name }?.value
    }

    @Test("a tap's counters are the host device's, rx and tx swapped; cpu.* of the process")
    func tapAndCPU() throws {
        // A device whose counters are read before and after: the guest's rx is the host side's tx.
        let devs = try #require(LinuxSys.readFile("/proc/net/dev")).split(separator: "\n").dropFirst(2)
            .compactMap { $0.split(separator: ":").first?.trimmingCharacters(in: .whitespaces) }
        let dev = try #require(devs.first { $0 != "lo" } ?? devs.first)
        let before = try #require(QEMUDomainStats.netDev(dev))
        let d = try Self.def("<interface type='ethernet'><target dev='\(dev)' managed='no'/></interface>")
        let live = QEMUDomainStats.Live(pid: getpid())
        let p = QEMUDomainStats.params(def: d, status: DomainStatus(.running, reason: 1), live: live,
                                       wanted: StatsTypes.interface.rawValue | StatsTypes.cpuTotal.rawValue)
        let after = try #require(QEMUDomainStats.netDev(dev))
        #expect(Self.value(p, "net.count") == .uint(1))
        #expect(Self.value(p, "net.0.name") == .string(dev))
        guard case .ullong(let rx)? = Self.value(p, "net.0.rx.bytes"),
              case .ullong(let tx)? = Self.value(p, "net.0.tx.bytes") else {
            Issue.record("no byte counters: \(p)")
            return
        }
        #expect(before[8] <= rx && rx <= after[8])
        #expect(before[0] <= tx && tx <= after[0])
        for k in ["rx.pkts", "rx.errs", "rx.drop", "tx.pkts", "tx.errs", "tx.drop"] {
            #expect(Self.value(p, "net.0.\(k)") != nil, "net.0.\(k)")
        }
        guard case .ullong(let t)? = Self.value(p, "cpu.time"), case .ullong(let u)? = Self.value(p, "cpu.user"),
              case .ullong(let s)? = Self.value(p, "cpu.system") else {
            Issue.record("no cpu fields: \(p)")
            return
        }
        #expect(t == u + s && t > 0)
    }

    @Test("a shut-off domain's disks: capacity from a qcow2 header, physical the file size")
    func inactiveDisk() throws {
        let dir = try TestPaths.makeTempDir("qsu")
        defer { TestPaths.removeDir(dir) }
        let img = dir + "/a.qcow2"
        #expect(try ChildProcess.run(["/usr/bin/qemu-img", "create", "-q", "-f", "qcow2", img, "10M"]).status == 0)
        let d = try Self.def("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='\(img)'/>"
                             + "<target dev='vda' bus='virtio'/></disk>")
        let params = QEMUDomainStats.params(def: d, status: DomainStatus(.shutoff, reason: 0), live: nil,
                                            wanted: StatsTypes.block.rawValue | StatsTypes.interface.rawValue)
        var st = stat()
        #expect(stat(img, &st) == 0)
        #expect(Self.value(params, "block.count") == .uint(1))
        #expect(Self.value(params, "block.0.path") == .string(img))
        #expect(Self.value(params, "block.0.capacity") == .ullong(10 << 20))
        #expect(Self.value(params, "block.0.physical") == .ullong(UInt64(st.st_size)))
        #expect(Self.value(params, "net.count") == nil)
    }
}
