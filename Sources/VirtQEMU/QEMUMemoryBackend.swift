import VirtCore
#if canImport(Glibc)
import Glibc
#endif

/// The RAM backend objects of a domain (`pc.ram`, each NUMA cell's `ram-nodeN`, each memory device's
/// `mem<alias>`), typed as libvirt 9.0 types them (qemuBuildMemoryBackendProps):
///
/// - `memory-backend-memfd` when `<memoryBacking><source type='memfd'/>` (and no file of its own);
/// - `memory-backend-file` when the device names a file (NVDIMM, virtio-pmem), or an access mode applies, or
///   `<memoryBacking><source type='file'/>`: the file is the device's own, or one named after the object in the
///   domain's directory under the driver's memory backing directory (`…/ram/<id>-<name>/<object>`);
/// - `memory-backend-ram` otherwise.
///
/// The access mode and discard come from the device, else its guest NUMA cell, else `<memoryBacking>`;
/// `prealloc` (with its threads) from `<allocation mode='immediate'/>`, and always for a file-backed NVDIMM that is not `pmem`.
enum QEMUMemoryBackend {
    /// One backend object to build.
    struct Spec {
        var id: String
        var sizeKiB: UInt64
        var model: MemoryModel?
        var access: String?
        var discard: Bool?
        var path: String?
        var pmem = false
        var alignKiB: UInt64?
        /// Host NUMA nodes the memory comes from (`host-nodes`), with `policy` (nil: the nodes are only checked,
        /// as libvirt does for the restrictive mode, which leaves the binding to the cgroup).
        var nodemask: String?
        var policy: String? = "bind"
        /// The file's name in the domain's memory backing directory.
        var fileName: String

        init(id: String, sizeKiB: UInt64) {
            self.id = id
            self.sizeKiB = sizeKiB
            self.fileName = id
        }
    }

    /// libvirt's host binding of a backend from `<numatune>`: the memory of guest cell `cell` (nil: the whole
    /// guest RAM, `pc.ram`) comes from the cell's `<memnode>` nodeset, else the domain-wide `<memory>` nodeset
    /// (none with automatic placement), unless the backend names its own nodes (a memory device's
    /// `<nodemask>`); the mode is the cell's, else the domain-wide one, else strict: strict binds, preferred and
    /// interleave are QEMU's policies of the same names, restrictive sets no policy.
    static func applyNUMATune(_ s: inout Spec, _ tune: NUMATune?, cell: UInt32?) {
        guard let tune else { return }
        let node = cell.flatMap { c in tune.memnodes.first { $0.cellID == c } }
        let mode = node?.mode ?? tune.mode ?? "strict"
        if s.nodemask == nil {
            s.nodemask = (node?.nodeset ?? (tune.placement == "auto" ? nil : tune.nodeset))?.description
        }
        switch mode {
        case "restrictive": s.policy = nil
        case "preferred", "interleave": s.policy = mode
        default: s.policy = "bind"
        }
    }

    /// Whether the host has NUMA node `n` (a kernel without NUMA has node 0 only).
    static func hostNodeExists(_ n: Int) -> Bool {
        let base = "/sys/devices/system/node"
        guard access(base, F_OK) == 0 else { return n == 0 }
        return access(base + "/node\(n)", F_OK) == 0
    }

    /// The system page size is no huge page (libvirt treats `<pagesize>` of 4 KiB as none).
    static func wantsHugepages(_ pagesizeKiB: UInt64?) -> Bool {
        guard let p = pagesizeKiB else { return false }
        return p != 4
    }

    /// libvirt's first check for huge pages: a hugetlbfs mount.
    static func checkHugetlbfs() throws(VirtError) {
        let mounts = LinuxSys.readFile("/proc/mounts") ?? ""
        let mounted = mounts.split(separator: "\n").contains { $0.split(separator: " ").dropFirst(2).first == "hugetlbfs" }
        if !mounted {
            throw VirtError.internalError("hugetlbfs filesystem is not mounted or disabled by administrator config",
                                          domain: .qemu)
        }
    }

    /// Whether a backend made from this spec and backing is a file under the domain's memory backing
    /// directory (the directory a start must create).
    static func usesBackingDir(_ s: Spec, backing: MemoryBacking?) -> Bool {
        guard s.path == nil else { return false }
        if backing?.sourceType == "memfd" { return false }
        return (s.access ?? backing?.accessMode) != nil || backing?.sourceType == "file"
    }

    static func props(_ s: Spec, backing: MemoryBacking?, backingDir: String?) throws(VirtError) -> QEMUJSONProps {
        var p = QEMUJSONProps()
        var isRAM = false
        let access = s.access ?? backing?.accessMode
        let discard = s.discard ?? (backing?.discard == true ? true : nil)
        var prealloc = backing?.allocationMode == "immediate"
        if s.path == nil && backing?.sourceType == "memfd" {
            p.add("qom-type", "memory-backend-memfd")
            p.add("id", s.id)
            if let access { p.add("share", bool: access == "shared") }
        } else if s.path != nil || access != nil || backing?.sourceType == "file" {
            p.add("qom-type", "memory-backend-file")
            p.add("id", s.id)
            if let path = s.path {
                p.add("mem-path", path)
            } else {
                guard let dir = backingDir else {
                    throw VirtError.internalError("no memory backing directory for '\(s.id)'", domain: .qemu)
                }
                p.add("mem-path", dir + "/" + s.fileName)
            }
            if let discard, s.model != .nvdimm { p.add("discard-data", bool: discard) }
            if let access { p.add("share", bool: access == "shared") }
            if s.model == .nvdimm && !s.pmem { prealloc = true }
        } else {
            p.add("qom-type", "memory-backend-ram")
            p.add("id", s.id)
            isRAM = true
        }
        // The machine's own RAM keeps the RAM block name a plain `-m` gave it (migration compatibility).
        if s.id == "pc.ram" && !isRAM {
            p.add("x-use-canonical-path-for-ramblock-id", bool: false)
        }
        if prealloc {
            p.add("prealloc", bool: true)
            if let t = backing?.allocationThreads { p.add("prealloc-threads", uint: UInt64(t)) }
        }
        if s.model == .virtioMem { p.add("reserve", bool: false) }
        p.add("size", uint: s.sizeKiB * 1024)
        if let a = s.alignKiB { p.add("align", uint: a * 1024) }
        if s.pmem { p.add("pmem", bool: true) }
        if let mask = s.nodemask {
            let nodes = try CPUSet(parsing: mask).cpus
            for n in nodes where !hostNodeExists(Int(n)) {
                throw VirtError.configUnsupported("NUMA node \(n) is unavailable")
            }
            if let policy = s.policy {
                p.add("host-nodes", uints: nodes.map(UInt64.init))
                p.add("policy", policy)
            }
        }
        return p
    }
}
