import VirtCore

extension QEMUDomainObject {
    /// The locked-memory limit QEMU gets at start, as libvirt 9.0 sets it: with `<memoryBacking><locked/>`
    /// (QEMU runs with `-overcommit mem-lock=on` and locks all its memory) the `<memtune><hard_limit>` when one is
    /// set, else unlimited; otherwise the daemon's own limit is inherited (nil). Without this a QEMU that runs as
    /// an unprivileged user could not lock its guest RAM within the default 8 MiB and would exit at start.
    static func memLockLimit(_ def: DomainDefinition) -> UInt64? {
        guard def.memoryBacking?.locked == true else { return nil }
        if let hard = def.memtune?.hardLimit, hard < QEMUCgroup.unlimitedKiB {
            let (bytes, overflow) = hard.multipliedReportingOverflow(by: 1024)
            return overflow ? UInt64.max : bytes
        }
        return UInt64.max
    }
}
