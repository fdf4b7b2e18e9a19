/// The outcome of comparing two CPUs, with libvirt's numbers (virCPUCompareResult).
public enum CPUCompareResult: Int32, Sendable {
    case incompatible = 0
    case identical = 1
    case superset = 2
}

/// `virConnectCompareCPUFlags`.
public struct CompareCPUFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Fail with the reason instead of answering "incompatible".
    public static let failIncompatible = CompareCPUFlags(rawValue: 1 << 0)
    /// Validate the XML against the schema.
    public static let validateXML = CompareCPUFlags(rawValue: 1 << 1)
}

/// `virConnectBaselineCPUFlags`.
public struct BaselineCPUFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// List the model's features explicitly.
    public static let expandFeatures = BaselineCPUFlags(rawValue: 1 << 0)
    /// Leave out features that block migration.
    public static let migratable = BaselineCPUFlags(rawValue: 1 << 1)
}
