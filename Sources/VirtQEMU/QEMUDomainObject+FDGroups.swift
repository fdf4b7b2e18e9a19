import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Descriptors a client associated with a domain under a name (virDomainFDAssociate), for disks whose source
/// names the group (`<source file='…' fdgroup='NAME'/>`): QEMU gets duplicates in an fdset at every start and
/// opens the image as `/dev/fdset/N`. The daemon keeps its own duplicates as long as the client that passed
/// them stays connected (or the domain object lives), as libvirt does; a name passed again replaces the group.
public final class DiskFDGroup: Sendable {
    let fds: [Int32]
    /// VIR_DOMAIN_FD_ASSOCIATE_SECLABEL_WRITABLE: the image is writable even through a single descriptor.
    let writable: Bool
    /// VIR_DOMAIN_FD_ASSOCIATE_SECLABEL_RESTORE (a label to give back; DAC labels no descriptor).
    let restoreLabel: Bool
    /// The client connection that passed them.
    let owner: UInt64

    init(fds: [Int32], writable: Bool, restoreLabel: Bool, owner: UInt64) {
        self.fds = fds
        self.writable = writable
        self.restoreLabel = restoreLabel
        self.owner = owner
    }

    deinit {
        for fd in fds { close(fd) }
    }
}

/// An fdset of QEMU's command line: its number, the descriptor numbers QEMU has, and the access.
public struct QEMUFDSet: Sendable, Hashable {
    public var id: Int
    public var fds: [Int32]
    public var writable: Bool
}

extension QEMUDomainObject {
    static let fdAssociateRestore: UInt32 = 1 << 0
    static let fdAssociateWritable: UInt32 = 1 << 1

    /// Keeps duplicates of `fds` under `name` (the caller closes its own).
    func associateFDs(name: String, fds: [Int32], flags: UInt32, owner: UInt64) throws(VirtError) {
        var copies: [Int32] = []
        for (i, fd) in fds.enumerated() {
            let c = fcntl(fd, F_DUPFD_CLOEXEC, 0)
            guard c >= 0 else {
                let e = errno
                for c in copies { close(c) }
                throw VirtError.systemError("failed to duplicate passed fd with index '\(i)'", errno: e, domain: .qemu)
            }
            copies.append(c)
        }
        fdGroups[name] = DiskFDGroup(fds: copies, writable: flags & Self.fdAssociateWritable != 0,
                                     restoreLabel: flags & Self.fdAssociateRestore != 0, owner: owner)
    }

    /// The client that passed some groups is gone: their descriptors are closed.
    func dropFDGroups(owner: UInt64) {
        fdGroups = fdGroups.filter { $0.value.owner != owner }
    }

    /// The fdsets of the disks whose source names a group, numbered from 0 in disk order; the duplicates QEMU
    /// gets wait in ``fdSetHostFDs`` (numbered from `firstFD` in QEMU) for the launch.
    func prepareDiskFDSets(_ def: DomainDefinition, firstFD: Int32) throws(VirtError) -> [String: QEMUFDSet] {
        var sets: [String: QEMUFDSet] = [:]
        for d in def.devices.disks where d.type == .file {
            guard let name = d.source.fdGroup else { continue }
            guard let group = fdGroups[name] else {
                throw VirtError(.invalidArg, domain: .qemu,
                                "invalid argument: file descriptor group '\(name)' was not associated with the domain",
                                str1: "file descriptor group '\(name)' was not associated with the domain")
            }
            var numbers: [Int32] = []
            for fd in group.fds {
                let c = fcntl(fd, F_DUPFD_CLOEXEC, 0)
                guard c >= 0 else {
                    throw VirtError.systemError("failed to duplicate file descriptor for fd group '\(name)'",
                                                errno: errno, domain: .qemu)
                }
                fdSetHostFDs.append(c)
                numbers.append(firstFD + Int32(fdSetHostFDs.count - 1))
            }
            sets[d.target.dev] = QEMUFDSet(id: sets.count, fds: numbers, writable: group.writable)
        }
        return sets
    }
}
