import CSpawn
import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The perf events a running domain counts (libvirt's virPerf): one perf_event_open(2) descriptor per enabled
/// event on QEMU's process (all its threads, inherited), opened when the definition's `<perf>` enables it at
/// start or by virDomainSetPerfEvents, read for `domstats --perf`, closed when disabled or QEMU stops.
struct QEMUPerfEvents: Sendable {
    /// The kernel's event of each of libvirt's names: (PERF_TYPE_HARDWARE 0 or PERF_TYPE_SOFTWARE 1, config).
    /// cmt, mbmt and mbml are Intel RDT (resctrl) events with no perf type here.
    static let attributes: [String: (type: UInt32, config: UInt64)] = [
        "cpu_cycles": (0, 0), "instructions": (0, 1), "cache_references": (0, 2), "cache_misses": (0, 3),
        "branch_instructions": (0, 4), "branch_misses": (0, 5), "bus_cycles": (0, 6),
        "stalled_cycles_frontend": (0, 7), "stalled_cycles_backend": (0, 8), "ref_cpu_cycles": (0, 9),
        "cpu_clock": (1, 0), "task_clock": (1, 1), "page_faults": (1, 2), "context_switches": (1, 3),
        "cpu_migrations": (1, 4), "page_faults_min": (1, 5), "page_faults_maj": (1, 6), "alignment_faults": (1, 7),
        "emulation_faults": (1, 8),
    ]

    /// Open descriptors by event name.
    private(set) var fds: [String: Int32] = [:]

    func isEnabled(_ name: String) -> Bool { fds[name] != nil }

    /// libvirt's virPerfEventEnable: nothing to do for an enabled event; the RDT events need resctrl's
    /// monitoring, which this host's kernel does not offer (libvirt's refusal, as it words it).
    mutating func enable(_ name: String, pid: pid_t) throws(VirtError) {
        if fds[name] != nil { return }
        guard let attr = Self.attributes[name] else {
            throw VirtError(.argumentUnsupported, domain: VirtError.ErrorDomain(rawValue: 65),
                            "argument unsupported: unable to enable host cpu perf event for \(name)")
        }
        var stage: Int32 = 0
        let fd = swiftvirt_perf_open(attr.type, attr.config, pid, &stage)
        if fd < 0 {
            let what = stage == 0 ? "open" : "enable"
            throw VirtError.systemError("unable to \(what) host cpu perf event for \(name)", errno: errno,
                                        domain: VirtError.ErrorDomain(rawValue: 65))
        }
        fds[name] = fd
    }

    /// libvirt's virPerfEventDisable: the descriptor closed (nothing for one that is not open).
    mutating func disable(_ name: String) {
        if let fd = fds.removeValue(forKey: name) { close(fd) }
    }

    /// Every descriptor closed (QEMU stopped).
    mutating func closeAll() {
        for fd in fds.values { close(fd) }
        fds = [:]
    }

    /// The counts of the enabled events in libvirt's order (`perf.NAME` of domstats); an event that cannot be
    /// read is left out, as libvirt skips it.
    func counts() -> [(String, UInt64)] {
        DomainDefinition.perfEventNames.compactMap { name in
            guard let fd = fds[name] else { return nil }
            var v: UInt64 = 0
            return swiftvirt_perf_read(fd, &v) == 0 ? (name, v) : nil
        }
    }
}
