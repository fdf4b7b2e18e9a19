/// `virDomainBlockJobInfo`: a block job's type (`virDomainBlockJobType`), bandwidth and progress.
public struct BlockJobInfo: Sendable, Hashable {
    public var type: Int32
    public var bandwidth: UInt64
    public var cur: UInt64
    public var end: UInt64
    public init(type: Int32, bandwidth: UInt64, cur: UInt64, end: UInt64) {
        self.type = type
        self.bandwidth = bandwidth
        self.cur = cur
        self.end = end
    }
}

/// libvirt's `virDomainBlockJobType` and `virConnectDomainEventBlockStatus`.
public enum BlockJobType: Int32, Sendable {
    case unknown = 0, pull, copy, commit, activeCommit, backup
}

public enum BlockJobStatus: Int32, Sendable {
    case completed = 0, failed, cancelled, ready
}

/// Block device defaults: NO_SUPPORT naming libvirt's API.
extension HypervisorDriver {
    public func blockResize(_ domain: DomainRef, disk: String, size: UInt64, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainBlockResize", domain: .domain)
    }
    public func blockIoTune(_ domain: DomainRef, disk: String?, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        throw VirtError.noSupport("virDomainGetBlockIoTune", domain: .domain)
    }
    public func setBlockIoTune(_ domain: DomainRef, disk: String, params: [TypedParam], flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainSetBlockIoTune", domain: .domain)
    }
    public func blockJobInfo(_ domain: DomainRef, disk: String, flags: UInt32) async throws -> BlockJobInfo? {
        throw VirtError.noSupport("virDomainGetBlockJobInfo", domain: .domain)
    }
    public func blockJobAbort(_ domain: DomainRef, disk: String, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainBlockJobAbort", domain: .domain)
    }
    public func blockJobSetSpeed(_ domain: DomainRef, disk: String, bandwidth: UInt64, flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainBlockJobSetSpeed", domain: .domain)
    }
    public func blockRebase(_ domain: DomainRef, disk: String, base: String?, bandwidth: UInt64, flags: UInt32,
                            pull: Bool) async throws {
        throw VirtError.noSupport(pull ? "virDomainBlockPull" : "virDomainBlockRebase", domain: .domain)
    }
    public func blockCommit(_ domain: DomainRef, disk: String, base: String?, top: String?, bandwidth: UInt64,
                            flags: UInt32) async throws {
        throw VirtError.noSupport("virDomainBlockCommit", domain: .domain)
    }
    public func blockCopy(_ domain: DomainRef, disk: String, destXML: String, params: [TypedParam], flags: UInt32)
        async throws {
        throw VirtError.noSupport("virDomainBlockCopy", domain: .domain)
    }
}
