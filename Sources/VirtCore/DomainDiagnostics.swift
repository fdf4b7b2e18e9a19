/// `virDomainControlInfo`: the state of the driver's control channel to a domain.
public struct DomainControlInfo: Sendable, Hashable {
    /// `virDomainControlState`: ok, job, occupied, error.
    public var state: UInt32
    /// `virDomainControlErrorReason` when the state is error.
    public var details: UInt32
    /// Milliseconds in the current state, for job and occupied.
    public var stateTime: UInt64

    public init(state: UInt32, details: UInt32 = 0, stateTime: UInt64 = 0) {
        self.state = state
        self.details = details
        self.stateTime = stateTime
    }
}

/// `virDomainDiskError`: a disk (its target) and the I/O error it hit (`virDomainDiskErrorCode`: 0 none,
/// 1 unspecified, 2 no space).
public struct DomainDiskError: Sendable, Hashable {
    public var disk: String
    public var error: Int32

    public init(disk: String, error: Int32) {
        self.disk = disk
        self.error = error
    }
}
