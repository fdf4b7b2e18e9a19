/// `virConnectListAllDomainsFlags`.
public struct ListAllDomainsFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let active = Self(rawValue: 1)
    public static let inactive = Self(rawValue: 2)
    public static let persistent = Self(rawValue: 4)
    public static let transient = Self(rawValue: 8)
    public static let running = Self(rawValue: 16)
    public static let paused = Self(rawValue: 32)
    public static let shutoff = Self(rawValue: 64)
    public static let other = Self(rawValue: 128)
    public static let managedSave = Self(rawValue: 256)
    public static let noManagedSave = Self(rawValue: 512)
    public static let autostart = Self(rawValue: 1024)
    public static let noAutostart = Self(rawValue: 2048)
    public static let hasSnapshot = Self(rawValue: 4096)
    public static let noSnapshot = Self(rawValue: 8192)
    public static let hasCheckpoint = Self(rawValue: 16384)
    public static let noCheckpoint = Self(rawValue: 32768)
}

/// `virDomainCreateFlags`.
public struct CreateFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let startPaused = Self(rawValue: 1)
    public static let autodestroy = Self(rawValue: 2)
    public static let bypassCache = Self(rawValue: 4)
    public static let forceBoot = Self(rawValue: 8)
    public static let validate = Self(rawValue: 16)
    public static let resetNVRAM = Self(rawValue: 32)
}

/// `virDomainDefineFlags`.
public struct DefineFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let validate = Self(rawValue: 1)
}

/// `virDomainUndefineFlagsValues`.
public struct UndefineFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let managedSave = Self(rawValue: 1)
    public static let snapshotsMetadata = Self(rawValue: 2)
    public static let nvram = Self(rawValue: 4)
    public static let keepNVRAM = Self(rawValue: 8)
    public static let checkpointsMetadata = Self(rawValue: 16)
    public static let tpm = Self(rawValue: 32)
    public static let keepTPM = Self(rawValue: 64)
}

/// `virDomainDestroyFlagsValues`.
public struct DestroyFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let graceful = Self(rawValue: 1)
    public static let removeLogs = Self(rawValue: 2)
}

/// `virDomainShutdownFlagValues` / `virDomainRebootFlagValues` (same values).
public struct ShutdownFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let acpiPowerButton = Self(rawValue: 1)
    public static let guestAgent = Self(rawValue: 2)
    public static let initctl = Self(rawValue: 4)
    public static let signal = Self(rawValue: 8)
    public static let paravirt = Self(rawValue: 16)
}

/// `virDomainSaveRestoreFlags`.
public struct SaveRestoreFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let bypassCache = Self(rawValue: 1)
    public static let running = Self(rawValue: 2)
    public static let paused = Self(rawValue: 4)
    public static let resetNVRAM = Self(rawValue: 8)
}

/// `virDomainXMLFlags`.
public struct XMLFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let secure = Self(rawValue: 1)
    public static let inactive = Self(rawValue: 2)
    public static let updateCPU = Self(rawValue: 4)
    public static let migratable = Self(rawValue: 8)
}

/// `virDomainModificationImpact` plus the MEM_*/VCPU_* extras.
public struct ModificationImpact: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let current: Self = []
    public static let live = Self(rawValue: 1)
    public static let config = Self(rawValue: 2)
    /// VIR_DOMAIN_MEM_MAXIMUM / VIR_DOMAIN_VCPU_MAXIMUM.
    public static let maximum = Self(rawValue: 4)
    public static let vcpuGuest = Self(rawValue: 8)
    public static let vcpuHotpluggable = Self(rawValue: 16)
}

/// `virDomainStatsTypes`.
public struct StatsTypes: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let state = Self(rawValue: 1)
    public static let cpuTotal = Self(rawValue: 2)
    public static let balloon = Self(rawValue: 4)
    public static let vcpu = Self(rawValue: 8)
    public static let interface = Self(rawValue: 16)
    public static let block = Self(rawValue: 32)
    public static let perf = Self(rawValue: 64)
    public static let iothread = Self(rawValue: 128)
    public static let memory = Self(rawValue: 256)
    public static let dirtyRate = Self(rawValue: 512)
    public static let vm = Self(rawValue: 1024)
}

/// `virConnectGetAllDomainStatsFlags`.
public struct GetAllDomainStatsFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let active = Self(rawValue: 1)
    public static let inactive = Self(rawValue: 2)
    public static let persistent = Self(rawValue: 4)
    public static let transient = Self(rawValue: 8)
    public static let running = Self(rawValue: 16)
    public static let paused = Self(rawValue: 32)
    public static let shutoff = Self(rawValue: 64)
    public static let other = Self(rawValue: 128)
    public static let nowait = Self(rawValue: 1 << 29)
    public static let backing = Self(rawValue: 1 << 30)
    public static let enforceStats = Self(rawValue: 1 << 31)
}
