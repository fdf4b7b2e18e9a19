import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Facts about the host read from /proc, /sys and sysconf, for the `<host>` part of the capabilities XML.
public struct HostCapabilities: Sendable, Hashable {
    /// One logical CPU of a NUMA cell.
    public struct CPU: Sendable, Hashable {
        public var id: Int
        public var socketID: Int
        public var dieID: Int
        public var coreID: Int
        public var siblings: String
    }

    /// How many pages of one size a NUMA cell has.
    public struct PageCount: Sendable, Hashable {
        /// KiB.
        public var size: UInt64
        public var count: UInt64
    }

    /// The distance from a NUMA cell to another one (`/sys/devices/system/node/nodeN/distance`).
    public struct Distance: Sendable, Hashable {
        public var id: Int
        public var value: Int
    }

    /// A NUMA cell (`/sys/devices/system/node/nodeN`).
    public struct Cell: Sendable, Hashable {
        public var id: Int
        /// KiB.
        public var memory: UInt64
        /// The base page size first, then each huge page size.
        public var pages: [PageCount]
        public var distances: [Distance]
        public var cpus: [CPU]
    }

    /// A cache bank shared by some CPUs (`/sys/devices/system/cpu/cpuN/cache/indexM`).
    public struct CacheBank: Sendable, Hashable {
        public var id: Int
        public var level: Int
        /// `both`, `data` or `code`.
        public var type: String
        /// Bytes.
        public var size: UInt64
        public var cpus: String
    }

    /// `/sys/class/dmi/id/product_uuid` when valid, else nil (the caller then uses a per-process random one).
    public var smbiosUUID: VirtUUID?
    /// `uname -m`.
    public var arch: String
    /// `/proc/cpuinfo` of the first CPU: vendor_id, cpu family, model, stepping, microcode, cpu MHz, flags,
    /// address sizes.
    public var cpuinfo: [String: String]
    public var flags: [String]
    public var sockets: Int
    public var diesPerSocket: Int
    public var coresPerDie: Int
    public var threadsPerCore: Int
    /// KiB; the base page first, then each huge page size.
    public var pageSizes: [UInt64]
    public var cells: [Cell]
    public var caches: [CacheBank]
    /// `/sys/power/state` targets.
    public var powerStates: [String]
    public var iommu: Bool
    /// The features the CPUID instruction reports (``HostCPUID``; nil where it cannot run, or for a host read
    /// from files): what libvirt names the host CPU from, where Linux hides a bit.
    public var cpuidFeatures: [String]? = nil

    /// Reads the host.
    public static func read() -> HostCapabilities {
        var uts = utsname()
        uname(&uts)
        let arch = withUnsafeBytes(of: uts.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        let uuid = LinuxSys.readFile("/sys/class/dmi/id/product_uuid")
            .flatMap { VirtUUID(string: $0.trimmingCharacters(in: .whitespacesAndNewlines)) }

        var info: [String: String] = [:]
        for line in (LinuxSys.readFile("/proc/cpuinfo") ?? "").split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty, !info.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let k = line[..<colon].trimmingCharacters(in: .whitespaces)
            let v = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            info[k] = v
        }
        let flags = (info["flags"] ?? "").split(separator: " ").map(String.init)

        let pageKiB = UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 4096)) / 1024
        var huge: [UInt64] = []
        for d in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/kernel/mm/hugepages")) ?? [] {
            if let n = UInt64(d.replacingOccurrences(of: "hugepages-", with: "").replacingOccurrences(of: "kB", with: "")) {
                huge.append(n)
            }
        }
        let pageSizes = [pageKiB] + huge.sorted()

        let online = parseCPUList(LinuxSys.readFile("/sys/devices/system/cpu/online") ?? "0")
        func topo(_ cpu: Int, _ name: String) -> String? {
            LinuxSys.readFile("/sys/devices/system/cpu/cpu\(cpu)/topology/\(name)")?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func cpu(_ id: Int) -> CPU {
            CPU(id: id, socketID: Int(topo(id, "physical_package_id") ?? "") ?? 0,
                dieID: Int(topo(id, "die_id") ?? "") ?? 0, coreID: Int(topo(id, "core_id") ?? "") ?? 0,
                siblings: topo(id, "thread_siblings_list") ?? "\(id)")
        }
        let allCPUs = online.map(cpu)
        let sockets = Set(allCPUs.map(\.socketID)).count
        let dies = Set(allCPUs.map { "\($0.socketID)/\($0.dieID)" }).count
        let cores = Set(allCPUs.map { "\($0.socketID)/\($0.dieID)/\($0.coreID)" }).count
        let s = max(sockets, 1)
        let dps = max(dies / s, 1)
        let cpd = max(cores / max(dies, 1), 1)
        let tpc = max(allCPUs.count / max(cores, 1), 1)

        var cells: [Cell] = []
        let nodeDir = "/sys/devices/system/node"
        let nodes = parseCPUList(LinuxSys.readFile(nodeDir + "/online") ?? "")
        for n in nodes {
            let dir = nodeDir + "/node\(n)"
            var memKiB: UInt64 = 0
            for line in (LinuxSys.readFile(dir + "/meminfo") ?? "").split(separator: "\n") where line.contains("MemTotal:") {
                memKiB = UInt64(line.split(separator: " ").dropLast().last ?? "") ?? 0
            }
            var pages: [PageCount] = []
            var hugeKiB: UInt64 = 0
            for size in huge.sorted() {
                let c = UInt64(LinuxSys.readFile(dir + "/hugepages/hugepages-\(size)kB/nr_hugepages")?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
                hugeKiB += c * size
                pages.append(PageCount(size: size, count: c))
            }
            pages.insert(PageCount(size: pageKiB, count: (memKiB - min(hugeKiB, memKiB)) / pageKiB), at: 0)
            let dist = (LinuxSys.readFile(dir + "/distance") ?? "").split(whereSeparator: \.isWhitespace)
                .compactMap { Int($0) }
            let distances = zip(nodes, dist).map { Distance(id: $0.0, value: $0.1) }
            let cpus = parseCPUList(LinuxSys.readFile(dir + "/cpulist") ?? "").filter(online.contains).map(cpu)
            cells.append(Cell(id: n, memory: memKiB, pages: pages, distances: distances, cpus: cpus))
        }

        var banks: [CacheBank] = []
        for c in online {
            let base = "/sys/devices/system/cpu/cpu\(c)/cache"
            for idx in ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).sorted()
            where idx.hasPrefix("index") {
                func read(_ f: String) -> String? {
                    LinuxSys.readFile(base + "/\(idx)/\(f)")?.trimmingCharacters(in: .whitespacesAndNewlines)
                }
                guard let level = read("level").flatMap({ Int($0) }), level >= 3,
                      let sizeText = read("size"), let type = read("type") else { continue }
                let id = read("id").flatMap { Int($0) } ?? 0
                let kind = type == "Unified" ? "both" : type == "Data" ? "data" : "code"
                let size = parseSize(sizeText)
                let cpus = read("shared_cpu_list") ?? "\(c)"
                if !banks.contains(where: { $0.id == id && $0.level == level && $0.type == kind }) {
                    banks.append(CacheBank(id: id, level: level, type: kind, size: size, cpus: cpus))
                }
            }
        }

        let power = (LinuxSys.readFile("/sys/power/state") ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
        let iommu = !((try? FileManager.default.contentsOfDirectory(atPath: "/sys/kernel/iommu_groups")) ?? []).isEmpty

        return HostCapabilities(smbiosUUID: uuid, arch: arch, cpuinfo: info, flags: flags, sockets: s,
                                diesPerSocket: dps, coresPerDie: cpd, threadsPerCore: tpc, pageSizes: pageSizes,
                                cells: cells, caches: banks, powerStates: power, iommu: iommu,
                                cpuidFeatures: HostCPUID.hostFeatures())
    }

    /// `0-3,8` → [0, 1, 2, 3, 8].
    static func parseCPUList(_ s: String) -> [Int] {
        var out: [Int] = []
        for part in s.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let r = part.split(separator: "-")
            if r.count == 2, let a = Int(r[0]), let b = Int(r[1]), a <= b {
                out += Array(a...b)
            } else if let a = Int(part) {
                out.append(a)
            }
        }
        return out
    }

    /// `32768K` → bytes.
    static func parseSize(_ s: String) -> UInt64 {
        let mult: UInt64
        var digits = Substring(s)
        switch s.last {
        case "K": mult = 1024; digits = digits.dropLast()
        case "M": mult = 1024 * 1024; digits = digits.dropLast()
        case "G": mult = 1024 * 1024 * 1024; digits = digits.dropLast()
        default: mult = 1
        }
        return (UInt64(digits) ?? 0) * mult
    }
}
