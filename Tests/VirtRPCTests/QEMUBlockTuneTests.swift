import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `blockresize` and `blkdeviotune` on a KVM domain without a guest OS (SeaBIOS waits) with a qcow2 and a raw
/// disk, through virtd and through Debian's libvirtd 9.0 side by side: Debian's virsh runs the same commands on
/// both, one virsh per command, and stdout, stderr and exit status must be the same (paths normalised); then
/// the disks' `<disk>` elements in live and persistent `dumpxml`, the TUNABLE events `virsh event --all --loop`
/// printed, and the images' sizes as `qemu-img info` reads them. QEMU's own view is checked too: the throttle
/// values virsh reads back on a running domain come from QEMU's query-block, and a restarted domain gets its
/// `<iotune>` from the definition.
@Suite("QEMU blockresize and blkdeviotune: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .kvm, .root, .referenceLibvirtd))
struct QEMUBlockTuneTests {
    static func domainXML(_ work: String) -> String {
        """
        <domain type='kvm'><name>bt</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='\(work)/q.qcow2'/><target dev='vda' bus='virtio'/></disk>
        <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='\(work)/r.img'/><target dev='vdb' bus='virtio'/></disk>
        <memballoon model='none'/></devices></domain>
        """
    }

    static func makeWork(_ dir: String) throws -> String {
        let work = dir + "/bt"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        chmod(work, 0o755)
        for (file, format, size) in [("q.qcow2", "qcow2", "64M"), ("r.img", "raw", "16M")] {
            let r = try ChildProcess.run(["/usr/bin/qemu-img", "create", "-q", "-f", format, work + "/" + file, size],
                                         timeLimit: 60)
            #expect(r.status == 0, "qemu-img create: \(r.stderr)")
            chmod(work + "/" + file, 0o666)
        }
        try domainXML(work).write(toFile: work + "/bt.xml", atomically: true, encoding: .utf8)
        return work
    }

    /// The commands, each run by its own virsh; `W` is the work directory.
    static let steps: [String] = [
        "define W/bt.xml",
        "blockresize bt vdb 32M",
        "start bt",
        "blockresize bt vdb 32M",
        "blockresize bt vdb 32",
        "blockresize bt vdb 17000001b",
        "blockresize bt W/r.img 20M",
        "blockresize bt vda 100M",
        "blockresize bt vda 104857601b",
        "blockresize bt vdz 1M",
        "blockresize bt vdb abc",
        "blockresize bt vdb -5",
        "domblkinfo bt vdb",
        "blkdeviotune bt vda",
        "blkdeviotune bt vda --total-bytes-sec 1000000",
        "blkdeviotune bt vda",
        "blkdeviotune bt vda --read-bytes-sec 5 --total-bytes-sec 6",
        "blkdeviotune bt vda --read-iops-sec 100 --group-name g1",
        "blkdeviotune bt vda",
        "blkdeviotune bt vdb --group-name g1 --write-iops-sec 7",
        "blkdeviotune bt vdb",
        "blkdeviotune bt vda --config",
        "blkdeviotune bt vda --config --total-iops-sec 9 --group-name gg",
        "blkdeviotune bt vda --config --write-bytes-sec-max 10k",
        "blkdeviotune bt vda --config",
        "blkdeviotune bt vdz",
        "blkdeviotune bt vdz --total-iops-sec 1",
        "blkdeviotune bt vda --total-bytes-sec-max 100",
        "blkdeviotune bt vda --size-iops-sec 4096 --total-iops-sec 1",
        "blkdeviotune bt vda --total-iops-sec 0",
        "blkdeviotune bt vda --write-bytes-sec-max 10",
        "blkdeviotune bt vda --total-iops-sec-max 30 --total-iops-sec-max-length 3",
        "blkdeviotune bt vda --total-iops-sec 40",
        "blkdeviotune bt vda --total-bytes-sec 1000000000000001",
        "blkdeviotune bt vda --read-bytes-sec-max-length 5",
        "blkdeviotune bt vda --total-bytes-sec 1x",
        "blkdeviotune bt vda --total-iops-sec x",
        "blkdeviotune bt vda --live --config --read-bytes-sec 3",
        "blkdeviotune bt W/q.qcow2",
        "blkdeviotune bt vdb --live",
        "blkdeviotune bt vdb --config",
        "connect U --readonly; blockresize bt vdb 64M",
        "connect U --readonly; blkdeviotune bt vda --total-iops-sec 5",
        "connect U --readonly; blkdeviotune bt vdb",
        "destroy bt",
        "blkdeviotune bt vda --live",
        "blockresize bt vda 1M",
        "start bt",
        "blkdeviotune bt vda",
        "blkdeviotune bt vdb",
        "destroy bt",
        "undefine bt",
    ]

    /// The `<disk>` elements of a domain XML.
    static func disks(_ xml: String) -> String {
        var out: [String] = []
        var inDisk = false
        for line in xml.split(separator: "\n") {
            if line.contains("<disk ") { inDisk = true }
            if inDisk { out.append(String(line)) }
            if line.contains("</disk>") { inDisk = false }
        }
        return out.joined(separator: "\n")
    }

    /// The events of domain `name` with their detail lines (TUNABLE prints its parameters on tab-indented lines).
    static func events(_ text: String, _ name: String) -> [String] {
        var out: [String] = []
        var current: String?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("\t"), current != nil {
                current? += " " + line.dropFirst()
                continue
            }
            if let c = current { out.append(c) }
            current = line.hasPrefix("event '") && line.contains(" for domain '\(name)'") ? String(line) : nil
        }
        if let c = current { out.append(c) }
        return out
    }

    struct Run {
        var transcript: [String] = []
        var liveDisks = ""
        var configDisks = ""
        var events: [String] = []
        var sizes: [String] = []
    }

    static func run(uri: String, dir: String, virsh: (String) throws -> ChildProcess.Result) throws -> Run {
        let work = try makeWork(dir)
        let watcher = try VirshEventWatcher(uri: uri, dir: dir)
        defer { watcher.stop() }
        var out = Run()
        for step in steps {
            let r = try virsh(step.replacingOccurrences(of: "W/", with: work + "/").replacingOccurrences(of: "connect U ", with: "connect \(uri) "))
            // The blocks a file has allocated are the host file system's business.
            let stdout = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("Allocation:") }.joined(separator: "\n")
            out.transcript.append("$ \(step)\n\(stdout)\(r.stderr)rc=\(r.status)".replacingOccurrences(of: work, with: "W")
                .replacingOccurrences(of: uri, with: "U"))
            if step == "blkdeviotune bt vdb --config" {
                out.liveDisks = disks(try virsh("dumpxml bt").stdout).replacingOccurrences(of: work, with: "W")
                out.configDisks = disks(try virsh("dumpxml bt --inactive").stdout).replacingOccurrences(of: work, with: "W")
            }
        }
        try watcher.sync()
        out.events = events(watcher.text, "bt")
        for f in ["q.qcow2", "r.img"] {
            let r = try ChildProcess.run(["/usr/bin/qemu-img", "info", "-U", work + "/" + f], timeLimit: 60)
            out.sizes += r.stdout.split(separator: "\n").filter { $0.hasPrefix("virtual size") }.map(String.init)
        }
        return out
    }

    @Test("blockresize and blkdeviotune: virsh's output, the disks' XML, TUNABLE events and image sizes as libvirtd's")
    func likeLibvirtd() throws {
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        let o = try Self.run(uri: ours.uri, dir: ours.dir) { try ours.virsh($0) }
        let r = try Self.run(uri: ref.uri, dir: ref.dir) { try virsh(ref.uri, $0, timeout: 120) }
        #expect(o.transcript.count == r.transcript.count)
        for (a, b) in zip(o.transcript, r.transcript) where a != b {
            Issue.record("virtd:\n\(a)\nlibvirtd:\n\(b)")
        }
        #expect(o.liveDisks == r.liveDisks, "virtd:\n\(o.liveDisks)\nlibvirtd:\n\(r.liveDisks)")
        #expect(o.configDisks == r.configDisks, "virtd:\n\(o.configDisks)\nlibvirtd:\n\(r.configDisks)")
        #expect(o.events == r.events, "virtd:\n\(o.events)\nlibvirtd:\n\(r.events)")
        #expect(o.sizes == r.sizes, "virtd: \(o.sizes) libvirtd: \(r.sizes)")
        // What virtd must show by itself, not only like libvirtd.
        let all = o.transcript.joined(separator: "\n")
        #expect(all.contains("$ blockresize bt vdb 32M\nBlock device 'vdb' is resized\n"), "\(all)")
        #expect(o.sizes.contains { $0.contains("(20971520 bytes)") }, "\(o.sizes)")
        #expect(o.sizes.contains { $0.contains("(104858112 bytes)") }, "\(o.sizes)")
        #expect(all.contains("group_name     : g1"), "\(all)")
        #expect(o.liveDisks.contains("<group_name>g1</group_name>"), "\(o.liveDisks)")
        #expect(o.events.contains { $0.hasPrefix("event 'tunable' for domain 'bt': blkdeviotune.disk: vda") }, "\(o.events)")
    }
}
