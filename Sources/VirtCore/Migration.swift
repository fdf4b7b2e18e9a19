/// libvirt's `virDomainMigrateFlags`.
public struct MigrateFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let live = Self(rawValue: 1)
    public static let peer2peer = Self(rawValue: 2)
    public static let tunnelled = Self(rawValue: 4)
    public static let persistDest = Self(rawValue: 8)
    public static let undefineSource = Self(rawValue: 16)
    public static let paused = Self(rawValue: 32)
    public static let nonSharedDisk = Self(rawValue: 64)
    public static let nonSharedInc = Self(rawValue: 128)
    public static let changeProtection = Self(rawValue: 256)
    public static let unsafe = Self(rawValue: 512)
    public static let offline = Self(rawValue: 1024)
    public static let compressed = Self(rawValue: 2048)
    public static let abortOnError = Self(rawValue: 4096)
    public static let autoConverge = Self(rawValue: 8192)
    public static let rdmaPinAll = Self(rawValue: 16384)
    public static let postcopy = Self(rawValue: 32768)
    public static let tls = Self(rawValue: 65536)
    public static let parallel = Self(rawValue: 131072)
    public static let nonSharedSynchronousWrites = Self(rawValue: 262144)
    public static let postcopyResume = Self(rawValue: 524288)
    public static let zerocopy = Self(rawValue: 1048576)
}

/// libvirt's `VIR_MIGRATE_PARAM_*` keys.
public enum MigrateParam {
    public static let uri = "migrate_uri"
    public static let destName = "destination_name"
    public static let destXML = "destination_xml"
    public static let persistXML = "persistent_xml"
    /// MiB/s.
    public static let bandwidth = "bandwidth"
    public static let bandwidthPostcopy = "bandwidth.postcopy"
    public static let graphicsURI = "graphics_uri"
    public static let listenAddress = "listen_address"
    public static let migrateDisks = "migrate_disks"
    public static let disksPort = "disks_port"
    public static let disksURI = "disks_uri"
    public static let compression = "compression"
    public static let parallelConnections = "parallel.connections"
    public static let tlsDestination = "tls.destination"
}

extension Array where Element == TypedParam {
    /// The first string value of `name`.
    public func string(_ name: String) -> String? {
        for p in self where p.field == name {
            if case .string(let s) = p.value { return s }
        }
        return nil
    }

    /// Every string value of `name` (parameters that may repeat).
    public func strings(_ name: String) -> [String] {
        compactMap { p in
            guard p.field == name, case .string(let s) = p.value else { return nil }
            return s
        }
    }

    /// The first numeric value of `name`, as an unsigned 64-bit number.
    public func uint64(_ name: String) -> UInt64? {
        for p in self where p.field == name {
            switch p.value {
            case .ullong(let v): return v
            case .llong(let v): return v >= 0 ? UInt64(v) : nil
            case .uint(let v): return UInt64(v)
            case .int(let v): return v >= 0 ? UInt64(v) : nil
            default: return nil
            }
        }
        return nil
    }

    /// The first numeric value of `name`, as a signed 32-bit number.
    public func int32(_ name: String) -> Int32? {
        for p in self where p.field == name {
            switch p.value {
            case .int(let v): return v
            case .uint(let v): return Int32(exactly: v)
            default: return nil
            }
        }
        return nil
    }
}

/// Opens a connection to another daemon for a peer-to-peer migration (`virConnectOpenAuth(dconnuri)` in
/// libvirt's source daemon). The daemon gives one to its drivers, so a driver needs no RPC code of its own.
public protocol MigrationPeerOpener: Sendable {
    func openPeer(uri: String) async throws -> any HypervisorDriver
}

/// The libvirt driver features (`virDrvFeature`) a driver may answer yes to.
public enum DriverFeatureCode {
    public static let migrationV2: Int32 = 3
    public static let migrationP2P: Int32 = 4
    public static let migrationDirect: Int32 = 5
    public static let migrationV3: Int32 = 6
    public static let migrateChangeProtection: Int32 = 7
    public static let xmlMigratable: Int32 = 11
    public static let migrationOffline: Int32 = 12
    public static let migrationParams: Int32 = 13
}
