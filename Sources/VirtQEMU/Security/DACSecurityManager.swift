import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The DAC security driver: QEMU runs as a configured uid:gid, and the paths it needs are chowned to it
/// before it starts and given back to their original owner after it ends (libvirt's `virSecurityDAC`).
///
/// With `rememberOwner`, the original owner is recorded (``OwnerRecordStore``) with a reference count: a path
/// used by several running domains is labelled once and restored when the last of them stops. Without a
/// record, restoring gives the path to root:root, as libvirt does.
public struct DACSecurityManager: SecurityManager {
    public let uid: uid_t
    public let gid: gid_t
    public let dynamicOwnership: Bool
    public let rememberOwner: Bool
    /// qemu.conf's `shared_filesystems`: paths to treat as shared storage (network filesystems are detected).
    public let sharedFilesystems: [String]
    private let store = OwnerRecordStore()

    public init(uid: uid_t, gid: gid_t, dynamicOwnership: Bool = true, rememberOwner: Bool = true,
                sharedFilesystems: [String] = []) {
        self.uid = uid
        self.gid = gid
        self.dynamicOwnership = dynamicOwnership
        self.rememberOwner = rememberOwner
        self.sharedFilesystems = sharedFilesystems
    }

    public var model: String { "dac" }

    /// The command line stays as libvirt has it (`-sandbox …,elevateprivileges=deny`, no `-runas`): QEMU is
    /// started as `uid:gid` already (``processCredentials()``), so it never changes its user itself. Running
    /// QEMU as root with another group is refused, as libvirt does.
    public func processArguments(_ arguments: [String]) throws(VirtError) -> [String] {
        if uid == 0 && gid != 0 {
            throw VirtError(.configUnsupported, domain: .security,
                            "unsupported configuration: running QEMU as root with group \(gid) is not supported")
        }
        return arguments
    }

    /// `uid:gid` with the user's supplementary groups (looked up at each start, as libvirt does); nil when
    /// that is already who the daemon is.
    public func processCredentials() throws(VirtError) -> ProcessCredentials? {
        if uid == geteuid() && gid == getegid() && uid != 0 { return nil }
        if uid == 0 && gid == 0 && geteuid() == 0 { return nil }
        return ProcessCredentials.forUser(uid: uid, gid: gid)
    }

    /// libvirt's dynamic DAC label, `+uid:+gid` for the process and the images; nothing when the domain
    /// already has a `dac` seclabel (static labels are kept as written, not applied).
    public func liveLabel(for def: DomainDefinition) -> XMLElement? {
        if def.extraElements.contains(where: { $0.name == "seclabel" && $0.attr("model") == "dac" }) { return nil }
        let label = "+\(uid):+\(gid)"
        return XMLElement(name: "seclabel",
                          attributes: [("type", "dynamic"), ("model", "dac"), ("relabel", "yes")],
                          children: [.element(XMLElement(name: "label", children: [.text(label)])),
                                     .element(XMLElement(name: "imagelabel", children: [.text(label)]))])
    }

    /// As libvirt's DAC driver, the start kind does not change what is labelled: a restore's image reaches
    /// QEMU as a descriptor, and an incoming migration's QEMU needs its disks as any other.
    public func setLabels(_ targets: [SecurityLabelTarget], start: QEMUStartKind) throws(VirtError) {
        guard dynamicOwnership else { return }
        var done: [SecurityLabelTarget] = []
        for t in targets {
            do {
                if try label(t) { done.append(t) }
            } catch {
                restoreLabels(done.reversed())
                throw error
            }
        }
    }

    /// After a successful outgoing migration, what is on shared storage belongs to the destination's QEMU and
    /// keeps its label (libvirt's RestoreAllLabel(migrated)); only this host's own files are given back.
    @discardableResult
    public func restoreLabels(_ targets: [SecurityLabelTarget], stop: QEMUStopKind) -> [String] {
        guard dynamicOwnership else { return [] }
        var failures: [String] = []
        let migrated = stop == .migratedOut(success: true)
        for t in targets {
            if migrated && SharedFilesystem.isShared(path: t.path, configured: sharedFilesystems) { continue }
            if let f = restore(t) { failures.append(f) }
        }
        return failures
    }

    /// Chowns one target to QEMU's user; false when it was skipped (missing and not required). Records and
    /// owners change under one process-wide lock, so that a domain starting while another stops never
    /// records the QEMU user as a path's original owner.
    private func label(_ t: SecurityLabelTarget) throws(VirtError) -> Bool {
        try OwnerRecordStore.lock.withLock { _ throws(VirtError) -> Bool in try labelLocked(t) }
    }

    private func labelLocked(_ t: SecurityLabelTarget) throws(VirtError) -> Bool {
        var st = stat()
        guard stat(t.path, &st) == 0 else {
            let e = errno
            if !t.required && e == ENOENT { return false }
            throw VirtError.systemError("unable to set user and group to '\(uid):\(gid)' on '\(t.path)'",
                                        errno: e, domain: .security)
        }
        if rememberOwner && t.kind != .backingImage {
            if var r = store.read(t.path), r.refs > 0 {
                r.refs += 1
                store.write(t.path, r)
            } else {
                store.write(t.path, .init(uid: st.st_uid, gid: st.st_gid, refs: 1))
            }
        }
        if st.st_uid != uid || st.st_gid != gid {
            guard chown(t.path, uid, gid) == 0 else {
                let e = errno
                if rememberOwner { _ = restoreLocked(t) }
                throw VirtError.systemError("unable to set user and group to '\(uid):\(gid)' on '\(t.path)'",
                                            errno: e, domain: .security)
            }
        }
        return true
    }

    /// Gives one target back; a description of the failure, or nil.
    private func restore(_ t: SecurityLabelTarget) -> String? {
        OwnerRecordStore.lock.withLock { _ in restoreLocked(t) }
    }

    private func restoreLocked(_ t: SecurityLabelTarget) -> String? {
        if t.kind == .backingImage { return nil }
        var st = stat()
        guard stat(t.path, &st) == 0 else { return nil }
        var owner: (uid_t, gid_t) = (0, 0)
        if rememberOwner, var r = store.read(t.path) {
            r.refs -= 1
            if r.refs > 0 {
                store.write(t.path, r)
                return nil
            }
            store.remove(t.path)
            owner = (r.uid, r.gid)
        }
        if st.st_uid == owner.0 && st.st_gid == owner.1 { return nil }
        if chown(t.path, owner.0, owner.1) != 0 {
            return "unable to restore owner \(owner.0):\(owner.1) of '\(t.path)': \(String(cString: strerror(errno)))"
        }
        return nil
    }
}
