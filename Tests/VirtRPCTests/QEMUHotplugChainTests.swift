import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Hot-plugged qcow2 disks with backing chains, on virtd and Debian's libvirtd 9.0 with the same steps
/// (``QEMUBlockJobTests/onBothDaemons(_:)``): the chain detected as at start (`<backingStore>` with node indexes
/// numbered after the top image), QEMU's block nodes named `libvirt-N-storage`/`-format` for every image, a pull
/// on the hot-plugged disk, and its nodes gone with it after an unplug; the owners of the backing images while
/// QEMU uses them and after. Compared: virsh's output, the disks' live and persistent XML, QEMU's named block
/// nodes, the data read back, and the images' owners and modes.
@Suite("QEMU hot-plugged disk chains: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .kvm, .root, .referenceLibvirtd))
struct QEMUHotplugChainTests {
    /// QEMU's named block nodes (`query-named-block-nodes`, flat), sorted.
    static func nodes(_ run: (String) throws -> ChildProcess.Result) throws -> String {
        let r = try run(#"qemu-monitor-command bj '{"execute":"query-named-block-nodes","arguments":{"flat":true}}'"#)
        guard let obj = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
              let list = obj["return"] as? [[String: Any]] else { return "nodes: ? \(r.stdout) \(r.stderr)" }
        return "nodes: " + list.compactMap { $0["node-name"] as? String }.sorted().joined(separator: " ")
    }

    /// Owner and mode of each image (`uid:gid mode`).
    static func owners(_ work: String, _ files: [String]) -> String {
        files.map { f -> String in
            var st = stat()
            guard stat(work + "/" + f, &st) == 0 else { return "\(f) missing" }
            return "\(f) \(st.st_uid):\(st.st_gid) " + String(st.st_mode & 0o777, radix: 8)
        }.joined(separator: ", ")
    }

    @Test("a disk's backing images are labelled for QEMU's user and given back, at start and at hotplug, as libvirtd's")
    func backingImagesLabelled() throws {
        // virtd as Debian's libvirtd runs QEMU: as libvirt-qemu, with dynamic ownership and remembered owners.
        let dac = "user = \"libvirt-qemu\"\ngroup = \"libvirt-qemu\"\n"
        let results = try QEMUBlockJobTests.onBothDaemons(oursConfig: dac) { work, _, run in
            let img = "/usr/bin/qemu-img"
            _ = try QEMUBlockJobTests.run([img, "create", "-q", "-f", "qcow2", work + "/h1.qcow2", "16M"])
            _ = try QEMUBlockJobTests.run([img, "create", "-q", "-f", "qcow2", "-b", "h1.qcow2", "-F", "qcow2",
                                           work + "/h2.qcow2"])
            let files = ["top.qcow2", "mid.qcow2", "base.qcow2", "h2.qcow2", "h1.qcow2"]
            for f in files { chmod(work + "/" + f, 0o644) }
            let xml = QEMUBlockJobTests.domainXML(work).replacingOccurrences(
                of: "<memballoon", with: "<controller type='scsi' index='0' model='virtio-scsi'/><memballoon")
            try xml.write(toFile: work + "/bj.xml", atomically: true, encoding: .utf8)
            var out: [String] = ["before: " + Self.owners(work, files)]
            out += try QEMUBlockJobOptionsTests.transcript(["define W/bj.xml", "start bj"], work: work, run)
            out.append("running: " + Self.owners(work, files))
            out += try QEMUBlockJobOptionsTests.transcript(
                ["attach-disk bj W/h2.qcow2 sda --driver qemu --subdriver qcow2 --targetbus scsi --live"], work: work, run)
            out.append("plugged: " + Self.owners(work, files))
            out += try QEMUBlockJobOptionsTests.transcript(["detach-disk bj sda --live"], work: work, run)
            _ = eventually(30) { !((try? run("dumpxml bj").stdout) ?? "").contains("<target dev='sda'") }
            out.append("unplugged: " + Self.owners(work, files))
            out += try QEMUBlockJobOptionsTests.transcript(["destroy bj", "undefine bj"], work: work, run)
            out.append("stopped: " + Self.owners(work, files))
            return out
        }
        #expect(results[0] == results[1],
                "virtd:\n\(results[0].joined(separator: "\n"))\nlibvirtd:\n\(results[1].joined(separator: "\n"))")
        // QEMU's user owned the backing images while they were in use; at the end only the top images are
        // given back (libvirt leaves backing images to QEMU's user).
        let running = results[0].first { $0.hasPrefix("running: ") } ?? ""
        #expect(!running.contains("mid.qcow2 0:0") && !running.contains("base.qcow2 0:0"), "\(running)")
        let stopped = results[0].first { $0.hasPrefix("stopped: ") } ?? ""
        #expect(stopped.contains("top.qcow2 0:0") && stopped.contains("h2.qcow2 0:0") && !stopped.contains("h1.qcow2 0:0"),
                "\(stopped)")
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
