import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Storage migration (`--copy-storage-all`, VIR_MIGRATE_NON_SHARED_DISK), as libvirt does it with -blockdev
/// QEMUs: the destination exports its disks through QEMU's NBD server while it waits for the stream; the
/// source mirrors each local disk into its export (`blockdev-mirror` to an `nbd` node), starts the memory
/// migration once every mirror is ready, and completes the mirrors at pre-switchover, while the guest is
/// paused, before QEMU switches over.
extension QEMUDomainObject {
    /// The format node of disk `target` in the running QEMU (the command line's `libvirt-N-format`).
    func formatNode(ofDiskTarget target: String) -> String? {
        let disks = (liveDefinition ?? definition).devices.disks
        guard let i = disks.firstIndex(where: { $0.target.dev == target }) else { return nil }
        return "libvirt-\(disks.count - i)-format"
    }

    /// The NBD export name of disk `target`: its alias, as libvirt names the exports.
    func exportName(ofDiskTarget target: String) -> String {
        let d = (liveDefinition ?? definition).devices.disks.first { $0.target.dev == target }
        return d?.info.alias ?? target
    }

    /// Begin (source): the local, writable disks to copy (all, or those named by `migrate_disks`), with their
    /// virtual sizes.
    func disksToCopy(_ params: [TypedParam]) async throws(VirtError) -> [QEMUMigrationCookie.NBD.Disk] {
        guard let mon = monitor else { return [] }
        let only = params.strings(MigrateParam.migrateDisks)
        let disks = (liveDefinition ?? definition).devices.disks
        for name in only where !disks.contains(where: { $0.target.dev == name }) {
            throw VirtError.invalidArg("invalid argument: disk target \(name) not found", domain: .qemu)
        }
        let nodes = try await mon.execute("query-named-block-nodes", arguments: ["flat": true])
        var out: [QEMUMigrationCookie.NBD.Disk] = []
        for d in disks where (d.type == .file || d.type == .block) && d.source.path != nil && !d.readonly
            && d.device != .cdrom && !d.shareable {
            if !only.isEmpty && !only.contains(d.target.dev) { continue }
            guard let node = formatNode(ofDiskTarget: d.target.dev) else { continue }
            let size = (nodes.arrayValue ?? []).first { $0["node-name"]?.stringValue == node }?["image"]?["virtual-size"]?
                .uint64Value ?? 0
            out.append(QEMUMigrationCookie.NBD.Disk(target: d.target.dev, capacity: size))
        }
        return out
    }

    /// Destination, before QEMU starts: the images of the copied disks that do not exist yet are made (raw:
    /// a sparse file; qcow2: `qemu-img create`) with the source's virtual size.
    static func precreateDisks(_ disks: [QEMUMigrationCookie.NBD.Disk], in def: DomainDefinition) throws(VirtError) {
        for nd in disks {
            guard let d = def.devices.disks.first(where: { $0.target.dev == nd.target }), let path = d.source.path else {
                throw VirtError.internalError("unable to find disk '\(nd.target)' to copy storage into", domain: .qemu)
            }
            if access(path, F_OK) == 0 { continue }
            switch d.driver.format ?? .raw {
            case .raw:
                let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard fd >= 0 else {
                    throw VirtError.systemError("cannot create disk image '\(path)'", errno: errno, domain: .qemu)
                }
                defer { close(fd) }
                guard ftruncate(fd, off_t(nd.capacity)) == 0 else {
                    throw VirtError.systemError("cannot size disk image '\(path)'", errno: errno, domain: .qemu)
                }
            case let fmt:
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/usr/bin/qemu-img")
                p.arguments = ["create", "-q", "-f", fmt.rawValue, path, "\(nd.capacity)"]
                do { try p.run() } catch {
                    throw VirtError.operationFailed("cannot run qemu-img to create '\(path)': \(error)", domain: .qemu)
                }
                p.waitUntilExit()
                guard p.terminationStatus == 0 else {
                    throw VirtError.operationFailed("qemu-img could not create '\(path)'", domain: .qemu)
                }
            }
        }
    }

    /// Destination, while QEMU waits for the stream: the NBD server on `host:port` and a writable export of
    /// every copied disk.
    func startNBDServer(host: String, port: Int) async throws(VirtError) {
        guard let mon = monitor else { throw VirtError.operationFailed("QEMU ended during startup", domain: .qemu) }
        try await mon.execute("nbd-server-start", arguments: [
            "addr": ["type": "inet", "data": ["host": .string(host), "port": .string("\(port)")]]])
        for d in migration.nbdDisks {
            guard let node = formatNode(ofDiskTarget: d.target) else { continue }
            try await mon.execute("block-export-add", arguments: [
                "type": "nbd", "id": .string("libvirt-nbd-\(node)"), "node-name": .string(node),
                "name": .string(exportName(ofDiskTarget: d.target)), "writable": true])
        }
    }

    /// Destination, Finish: the NBD server goes once the source completed its mirrors.
    func stopNBDServer() async {
        guard !migration.nbdDisks.isEmpty, let mon = monitor else { return }
        _ = try? await mon.execute("nbd-server-stop")
    }

    /// Source, Perform: a mirror of every copied disk into the destination's export, then wait until all are
    /// ready (in sync).
    func startMirrors(host: String, port: Int) async throws(VirtError) {
        guard let mon = monitor else { return }
        migration.mirrorJobs = []
        for d in migration.nbdDisks {
            guard let node = formatNode(ofDiskTarget: d.target) else { continue }
            let target = "migration-\(d.target)-storage"
            try await mon.execute("blockdev-add", arguments: [
                "driver": "nbd", "node-name": .string(target),
                "server": ["type": "inet", "host": .string(host), "port": .string("\(port)")],
                "export": .string(exportName(ofDiskTarget: d.target))])
            let job = "drive-\(exportName(ofDiskTarget: d.target))"
            try await mon.execute("blockdev-mirror", arguments: [
                "job-id": .string(job), "device": .string(node), "target": .string(target), "sync": "full",
                "auto-finalize": true, "auto-dismiss": true])
            migration.mirrorJobs.append(job)
        }
        var delay = 5
        while true {
            if jobs.abortRequested {
                throw VirtError(.operationAborted, domain: .qemu, "operation aborted: migration out: canceled by client",
                                str1: "migration out: canceled by client")
            }
            let list = try await mon.execute("query-block-jobs").arrayValue ?? []
            var ready = 0
            for job in migration.mirrorJobs {
                guard let j = list.first(where: { $0["device"]?.stringValue == job }) else {
                    throw VirtError.operationFailed("migration of disk storage failed: mirror job \(job) ended",
                                                    domain: .qemu)
                }
                if let e = j["error"]?.stringValue {
                    throw VirtError.operationFailed("migration of disk storage failed: \(e)", domain: .qemu)
                }
                if j["ready"]?.boolValue == true { ready += 1 }
            }
            if ready == migration.mirrorJobs.count { return }
            try? await Task.sleep(for: .milliseconds(delay))
            delay = min(delay * 2, 200)
        }
    }

    /// Source, at pre-switchover (guest paused): every mirror completes without a pivot (`block-job-cancel` of
    /// a ready mirror), and its NBD node goes.
    func completeMirrors() async throws(VirtError) {
        guard let mon = monitor, !migration.mirrorJobs.isEmpty else { return }
        for job in migration.mirrorJobs {
            try await mon.execute("block-job-cancel", arguments: ["device": .string(job)])
        }
        var delay = 5
        while true {
            let list = try await mon.execute("query-block-jobs").arrayValue ?? []
            let left = migration.mirrorJobs.filter { job in list.contains { $0["device"]?.stringValue == job } }
            if left.isEmpty { break }
            try? await Task.sleep(for: .milliseconds(delay))
            delay = min(delay * 2, 100)
        }
        migration.mirrorJobs = []
        for d in migration.nbdDisks {
            _ = try? await mon.execute("blockdev-del", arguments: ["node-name": .string("migration-\(d.target)-storage")])
        }
    }

    /// Source, on failure: the mirrors are cancelled (force) and their nodes removed.
    func cancelMirrors() async {
        guard let mon = monitor else { return }
        for job in migration.mirrorJobs {
            _ = try? await mon.execute("block-job-cancel", arguments: ["device": .string(job), "force": true])
        }
        migration.mirrorJobs = []
        try? await Task.sleep(for: .milliseconds(50))
        for d in migration.nbdDisks {
            _ = try? await mon.execute("blockdev-del", arguments: ["node-name": .string("migration-\(d.target)-storage")])
        }
    }
}
