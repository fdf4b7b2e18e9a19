import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Whether the user QEMU runs as can open a device (`/dev/kvm`) for reading and writing, decided from the
/// device's owner, group and mode against the user's uid, gid and supplementary groups (ACLs are not read).
///
/// libvirt starts a KVM domain whose QEMU cannot open /dev/kvm and lets QEMU fail ("failed to initialize kvm:
/// Permission denied"); its capability probe runs with CAP_DAC_OVERRIDE, so the host still reports KVM. We
/// report KVM the same way but refuse such a start before any process runs, saying who cannot open what and
/// how to fix it.
public struct KVMDeviceAccess: Sendable, Hashable {
    /// The device's owner, group and permission bits.
    public struct DeviceMode: Sendable, Hashable {
        public var uid: uid_t
        public var gid: gid_t
        public var mode: mode_t

        public init(uid: uid_t, gid: gid_t, mode: mode_t) {
            self.uid = uid
            self.gid = gid
            self.mode = mode & 0o7777
        }

        /// `root:kvm 0660`.
        public var description: String {
            "\(KVMDeviceAccess.userName(uid) ?? "+\(uid)"):\(KVMDeviceAccess.groupName(gid) ?? "+\(gid)") "
                + "0" + String(mode & 0o777, radix: 8)
        }
    }

    public static let defaultDevice = "/dev/kvm"

    /// The device's owner and mode; nil when it does not exist.
    public static func mode(of path: String) -> DeviceMode? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return DeviceMode(uid: st.st_uid, gid: st.st_gid, mode: st.st_mode)
    }

    /// Whether `credentials` may read and write a file with `device`'s owner and mode: root may, otherwise the
    /// owner bits apply to the owner, the group bits to a member of the file's group (primary or
    /// supplementary), the other bits to everyone else, as the kernel decides without ACLs.
    public static func canReadWrite(_ credentials: ProcessCredentials, device: DeviceMode) -> Bool {
        if credentials.uid == 0 { return true }
        let bits: mode_t
        if credentials.uid == device.uid {
            bits = (device.mode >> 6) & 0o7
        } else if credentials.gid == device.gid || credentials.groups.contains(device.gid) {
            bits = (device.mode >> 3) & 0o7
        } else {
            bits = device.mode & 0o7
        }
        return bits & 0o6 == 0o6
    }

    /// Checks, before a KVM domain starts, that QEMU's user (`credentials`; nil: this process's own) can open
    /// `path`. Throws OPERATION_INVALID naming the user, the device, its owner and mode, and the fix.
    public static func check(credentials: ProcessCredentials?, path: String = defaultDevice) throws(VirtError) {
        guard let device = mode(of: path) else {
            throw VirtError.operationInvalid(
                "a KVM domain cannot start: \(path) does not exist (is the kvm module loaded?); "
                    + "define the domain with type 'qemu' to run it without KVM", domain: .qemu)
        }
        let creds = credentials ?? ProcessCredentials(uid: geteuid(), gid: getegid(), groups: Self.ownGroups())
        guard !canReadWrite(creds, device: device) else { return }
        let user = userName(creds.uid).map { "'\($0)'" } ?? "+\(creds.uid)"
        // The group to join: the device's when it already grants read/write to its group, else kvm's.
        let grantsGroup = device.gid != 0 && device.mode & 0o060 == 0o060
        let fixGroup = (grantsGroup ? groupName(device.gid) : nil) ?? "kvm"
        let fixGID = grantsGroup ? device.gid : kvmGroupID
        let inGroup = fixGID.map { creds.gid == $0 || creds.groups.contains($0) } ?? false
        var fix = inGroup ? "" : "add the user to group '\(fixGroup)' and "
        fix += "give \(path) group \(fixGroup), mode 0660 (what Debian's udev rule does: "
            + "chgrp \(fixGroup) \(path) && chmod 0660 \(path))"
        throw VirtError.operationInvalid(
            "QEMU's user \(user) (uid \(creds.uid), gid \(creds.gid)) cannot open \(path) (\(device.description)) "
                + "to run a KVM domain: \(fix); or define the domain with type 'qemu'", domain: .qemu)
    }

    /// The gid of group `kvm`, if the host has it.
    static var kvmGroupID: gid_t? { UserDatabase.group(named: "kvm")?.gid }

    static func ownGroups() -> [gid_t] {
        let n = getgroups(0, nil)
        guard n > 0 else { return [] }
        var list = [gid_t](repeating: 0, count: Int(n))
        let got = getgroups(n, &list)
        return got > 0 ? Array(list.prefix(Int(got))) : []
    }

    static func userName(_ uid: uid_t) -> String? {
        UserDatabase.user(uid: uid)?.name
    }

    static func groupName(_ gid: gid_t) -> String? {
        UserDatabase.group(gid: gid)?.name
    }
}
