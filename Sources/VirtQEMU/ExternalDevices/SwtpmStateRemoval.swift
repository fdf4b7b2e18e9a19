import Foundation
import VirtCore

/// Removal of a domain's persistent TPM state when the domain goes away (libvirt's `qemuExtTPMCleanupHost`,
/// called on undefine and when a transient domain is removed after it stopped).
public enum SwtpmStateRemoval {
    /// Removes the TPM state folder (`…/swtpm/UUID`) of every emulated TPM of `def` when the rules say so
    /// (``SwtpmPlan/removesStateOnUndefine(persistentState:removeTPM:keepTPM:outgoingMigrationShared:)``):
    /// `flags` may hold `.tpm` (`virsh undefine --tpm`) or `.keepTPM` (`--keep-tpm`). With `outgoingMigration`
    /// (a transient domain that migrated away) state on shared storage stays. Returns the folders removed.
    @discardableResult
    public static func removeState(of def: DomainDefinition, paths: QEMUDriverPaths, flags: UndefineFlags,
                                   outgoingMigration: Bool = false, sharedFilesystems: [String] = []) -> [String] {
        var removed: [String] = []
        for t in def.devices.tpms {
            guard case .emulator(let e) = t.backend else { continue }
            let version = SwtpmPlan.effectiveVersion(of: e, model: t.model, arch: def.os.arch)
            let statePath = paths.swtpmStatePath(uuid: "\(def.uuid)", version: version)
            let shared = outgoingMigration
                && SharedFilesystem.isShared(path: statePath, configured: sharedFilesystems)
            guard SwtpmPlan.removesStateOnUndefine(persistentState: e.persistentState ?? false,
                                                   removeTPM: flags.contains(.tpm), keepTPM: flags.contains(.keepTPM),
                                                   outgoingMigrationShared: shared) else { continue }
            let dir = paths.swtpmDomainStorageDir(uuid: "\(def.uuid)")
            if FileManager.default.fileExists(atPath: dir) {
                try? FileManager.default.removeItem(atPath: dir)
                removed.append(dir)
            }
        }
        return removed
    }
}
