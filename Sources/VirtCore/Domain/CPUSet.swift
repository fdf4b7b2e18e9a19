/// A set of CPU numbers written as libvirt's bitmap syntax (`0-3,8,^2`), formatted back in libvirt's
/// canonical form (`0-1,3,8`): ascending ranges, single numbers alone.
public struct CPUSet: Sendable, Hashable, CustomStringConvertible {
    /// The CPU numbers, ascending, without duplicates.
    public private(set) var cpus: [UInt32]

    /// The largest CPU number accepted (libvirt 9.0 grows its bitmaps as needed; this bounds memory use).
    public static let maxCPU: UInt32 = 262_143

    public init<S: Sequence>(_ cpus: S) where S.Element == UInt32 {
        self.cpus = Array(Set(cpus)).sorted()
    }

    /// Parses libvirt's bitmap syntax; throws INVALID_ARG "Failed to parse bitmap 'S'".
    public init(parsing s: String) throws(VirtError) {
        let fail = VirtError.invalidArg("Failed to parse bitmap '\(s)'")
        var set = Set<UInt32>()
        var sawItem = false
        for rawItem in s.split(separator: ",", omittingEmptySubsequences: false) {
            var item = String(rawItem).trimmingSpaces
            var negate = false
            if item.hasPrefix("^") {
                negate = true
                item.removeFirst()
            }
            let parts = item.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 1 || (parts.count == 2 && !negate) else { throw fail }
            guard let lo = UInt32(String(parts[0]).trimmingSpaces), lo <= Self.maxCPU else { throw fail }
            var hi = lo
            if parts.count == 2 {
                guard let h = UInt32(String(parts[1]).trimmingSpaces), h <= Self.maxCPU, h >= lo else { throw fail }
                hi = h
            }
            if negate {
                set.remove(lo)
            } else {
                for c in lo...hi { set.insert(c) }
            }
            sawItem = true
        }
        guard sawItem else { throw fail }
        cpus = set.sorted()
    }

    public var isEmpty: Bool { cpus.isEmpty }

    /// libvirt's `virBitmapFormat` form.
    public var description: String {
        var out = ""
        var i = 0
        while i < cpus.count {
            var j = i
            while j + 1 < cpus.count && cpus[j + 1] == cpus[j] + 1 { j += 1 }
            if !out.isEmpty { out += "," }
            out += String(cpus[i])
            if j > i { out += "-" + String(cpus[j]) }
            i = j + 1
        }
        return out
    }
}
