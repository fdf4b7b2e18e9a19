import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Hot-plugged qcow2 disks with backing chains, on virtd and Debian's libvirtd 9.0 with the same steps
/// (``QEMUBlockJobTests/onBothDaemons(_:)``): the chain detected as at start (`<backingStore>` with node indexes
/// numbered after the top image), QEMU's block nodes named `libvirt-N-storage`/`-format` for every image, a pull
/// on the hot-plugged disk, and its nodes gone with it after an unplug. Compared: virsh's output, the disks' live
/// and persistent XML, QEMU's named block nodes and the data read back.
@Suite("QEMU hot-plugged disk chains: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .kvm, .root, .referenceLibvirtd))
struct QEMUHotplugChainTests {
    /// QEMU's named block nodes (`query-named-block-nodes`, flat), sorted.
    static func nodes(_ run: (String) throws -> ChildProcess.Result) throws -> String {
        let r = try run(#"qemu-monitor-command bj '{"execute":"query-named-block-nodes","arguments":{"flat":true}}'"#)
        guard let obj = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
              let list = obj["return"] as? [[String: Any]] else { return "nodes: ? \(r.stdout) \(r.stderr)" }
        return "nodes: " + list.compactMap { $0["node-name"] as? String }.sorted().joined(separator: " ")
    }

    @Test("attach-disk of qcow2 chains: backingStore, node names, blockpull and detach as libvirtd's")
    func hotpluggedChains() throws {
        let results = try QEMUBlockJobTests.onBothDaemons { work, watcher, run in
            let img = "/usr/bin/qemu-img", io = "/usr/bin/qemu-io"
            // h1 ← h2 and g1 ← g2 ← g3, each layer with its own pattern.
            _ = try QEMUBlockJobTests.run([img, "create", "-q", "-f", "qcow2", work + "/h1.qcow2", "16M"])
            _ = try QEMUBlockJobTests.run([io, "-c", "write -P 0x41 0 64k", work + "/h1.qcow2"])
            _ = try QEMUBlockJobTests.run([img, "create", "-q", "-f", "qcow2", "-b", "h1.qcow2", "-F", "qcow2",
                                           work + "/h2.qcow2"])
            _ = try QEMUBlockJobTests.run([io, "-c", "write -P 0x42 64k 64k", work + "/h2.qcow2"])
            _ = try QEMUBlockJobTests.run([img, "create", "-q", "-f", "qcow2", work + "/g1.qcow2", "16M"])
            _ = try QEMUBlockJobTests.run([img, "create", "-q", "-f", "qcow2", "-b", "g1.qcow2", "-F", "qcow2",
                                           work + "/g2.qcow2"])
            _ = try QEMUBlockJobTests.run([img, "create", "-q", "-f", "qcow2", "-b", "g2.qcow2", "-F", "qcow2",
                                           work + "/g3.qcow2"])
            for f in ["h1.qcow2", "h2.qcow2", "g1.qcow2", "g2.qcow2", "g3.qcow2"] { chmod(work + "/" + f, 0o666) }
            // A virtio-scsi controller: SCSI disks come and go without a guest OS acknowledging them.
            let xml = QEMUBlockJobTests.domainXML(work).replacingOccurrences(
                of: "<memballoon", with: "<controller type='scsi' index='0' model='virtio-scsi'/><memballoon")
            try xml.write(toFile: work + "/bj.xml", atomically: true, encoding: .utf8)
            var out: [String] = []
            func steps(_ s: [String]) throws {
                out += try QEMUBlockJobOptionsTests.transcript(s, work: work, run)
            }
            try steps(["define W/bj.xml", "start bj",
                       "attach-disk bj W/h2.qcow2 sda --driver qemu --subdriver qcow2 --targetbus scsi --live",
                       "attach-disk bj W/g3.qcow2 sdb --driver qemu --subdriver qcow2 --targetbus scsi --live", "@xml"])
            out.append(try Self.nodes(run))
            try steps(["blockpull bj sda --wait", "@xml"])
            out.append(try Self.nodes(run))
            try steps(["detach-disk bj sdb --live"])
            let gone = eventually(30) { !((try? run("dumpxml bj").stdout) ?? "").contains("<target dev='sdb'") }
            #expect(gone, "sdb still in the live XML")
            try steps(["@xml"])
            out.append(try Self.nodes(run))
            try steps(["destroy bj", "undefine bj"])
            // Once QEMU is gone (its caches written), h2 holds h1's data without a backing image.
            out.append("h2 after pull: " + QEMUBlockJobOptionsTests.read(work + "/h2.qcow2", format: "qcow2",
                                                                         pattern: "0x41", offset: "0"))
            out += try QEMUBlockJobOptionsTests.files(work, ["h2.qcow2"]).dropFirst()
            try watcher.sync()
            out += ["events:"] + QEMUBlockTuneTests.events(watcher.text, "bj").map {
                $0.replacingOccurrences(of: work, with: "W")
            }
            return out
        }
        #expect(results[0] == results[1],
                "virtd:\n\(results[0].joined(separator: "\n"))\nlibvirtd:\n\(results[1].joined(separator: "\n"))")
        let o = results[0].joined(separator: "\n")
        // The chain of sda is shown below its top image, numbered after it, and its nodes exist in QEMU.
        #expect(o.contains("<source file='W/h1.qcow2'/>"), "\(o)")
        #expect(o.contains("h2 after pull: 0x41@0: ok"), "\(o)")
    }
}
