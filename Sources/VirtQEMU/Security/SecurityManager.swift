import VirtCore

/// What a path given to QEMU is, for the security driver (libvirt labels each kind at start and restores it
/// at stop).
public enum SecurityLabelKind: String, Sendable, Hashable, Codable {
    /// A disk image or block device (`<disk type='file|block'>`).
    case image
    /// An image below a disk's top one in its backing chain: given to QEMU's user, its owner not remembered and
    /// never given back (libvirt's DAC driver leaves backing images alone at stop: they may be shared).
    case backingImage
    /// The direct-boot kernel or initrd.
    case kernel
    /// A character device's host path (file, pipe, device, existing unix socket).
    case chardev
    /// The per-domain log file.
    case log
    /// The per-domain private directory (HOME of QEMU, monitor socket).
    case privateDir
}

/// One path that the security driver gives to QEMU's user for the time QEMU runs.
public struct SecurityLabelTarget: Sendable, Hashable, Codable {
    public var path: String
    public var kind: SecurityLabelKind
    /// When false, a missing path is skipped (QEMU creates it, e.g. a chardev output file), not an error.
    public var required: Bool

    public init(path: String, kind: SecurityLabelKind, required: Bool = true) {
        self.path = path
        self.kind = kind
        self.required = required
    }
}

/// The seam between the QEMU driver and a security driver (libvirt's `virSecurityManager`): it says how QEMU
/// is to be run and labels the domain's resources before QEMU starts and restores them after it has ended.
public protocol SecurityManager: Sendable {
    /// The model name, as in `<seclabel model='…'>` (`dac`, `none`).
    var model: String { get }

    /// QEMU's command line `arguments`, as this driver wants them (it may also refuse a configuration).
    func processArguments(_ arguments: [String]) throws(VirtError) -> [String]

    /// The user QEMU is started as (set between fork and exec); nil: the daemon's own.
    func processCredentials() throws(VirtError) -> ProcessCredentials?

    /// Labels every target for QEMU about to start as `start` says (libvirt's SetAllLabel, told the restore
    /// source and whether the domain migrates in). On error, targets already labelled are restored before it
    /// throws.
    func setLabels(_ targets: [SecurityLabelTarget], start: QEMUStartKind) throws(VirtError)

    /// Gives every target back to its original owner after QEMU stopped as `stop` says (libvirt's
    /// RestoreAllLabel(migrated)); best effort (a failure on one target does not stop the others). Returns a
    /// description of each failure, for the domain log.
    @discardableResult
    func restoreLabels(_ targets: [SecurityLabelTarget], stop: QEMUStopKind) -> [String]

    /// The `<seclabel>` the live XML of a running domain shows for this driver, if any.
    func liveLabel(for def: DomainDefinition) -> XMLElement?
}

extension SecurityManager {
    public func liveLabel(for def: DomainDefinition) -> XMLElement? { nil }

    /// Labels for a cold boot.
    public func setLabels(_ targets: [SecurityLabelTarget]) throws(VirtError) {
        try setLabels(targets, start: .coldBoot)
    }

    /// Restores after a destroy.
    @discardableResult
    public func restoreLabels(_ targets: [SecurityLabelTarget]) -> [String] { restoreLabels(targets, stop: .destroyed) }

    public func processCredentials() throws(VirtError) -> ProcessCredentials? { nil }

    /// Adds ``liveLabel(for:)`` to a definition that is about to become a running domain's live definition.
    public func addLiveLabel(to def: inout DomainDefinition) {
        if let label = liveLabel(for: def) { def.extraElements.append(label) }
    }
}

/// The `none` security driver: QEMU runs as the daemon and nothing is relabelled.
public struct NoOpSecurityManager: SecurityManager {
    public init() {}
    public var model: String { "none" }
    public func processArguments(_ arguments: [String]) throws(VirtError) -> [String] { arguments }
    public func setLabels(_ targets: [SecurityLabelTarget], start: QEMUStartKind) throws(VirtError) {}
    public func restoreLabels(_ targets: [SecurityLabelTarget], stop: QEMUStopKind) -> [String] { [] }
}
