import VirtCore

extension QEMUDriver {
    /// `virDomainSetMemoryFlags` (the legacy call comes as LIVE, as libvirt's qemuDomainSetMemory).
    public func setMemory(_ domain: DomainRef, kib: UInt64, flags: ModificationImpact) async throws {
        if kib == 0 {
            throw VirtError(.invalidArg, domain: .domain, "memory in virDomainSetMemoryFlags must not be zero")
        }
        let bad = flags.rawValue & ~UInt32(1 | 2 | 4)
        if bad != 0 {
            throw VirtError(.invalidArg, domain: .qemu,
                            "unsupported flags (0x\(String(bad, radix: 16))) in function qemuDomainSetMemoryFlags")
        }
        try await state.object(domain).setMemory(kib: kib, flags: flags.rawValue)
    }
}
