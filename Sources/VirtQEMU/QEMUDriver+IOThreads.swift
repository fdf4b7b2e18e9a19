import Foundation
import VirtCore

/// IOThreads of QEMU domains (libvirt's qemuDomainAddIOThread, qemuDomainDelIOThread, qemuDomainPinIOThread,
/// qemuDomainSetIOThreadParams): iothread objects added and removed with `object-add`/`object-del`, their
/// polling values and thread pools set with `qom-set`, their threads pinned with sched_setaffinity.
extension QEMUDriver {
    public func addIOThread(_ domain: DomainRef, id: UInt32, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainAddIOThread")
        if id == 0 {
            throw VirtError.invalidArg("invalid value of 0 for iothread_id", domain: .qemu)
        }
        try await state.object(domain).changeIOThread(.add, id: id, flags: flags)
    }

    public func delIOThread(_ domain: DomainRef, id: UInt32, flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainDelIOThread")
        if id == 0 {
            throw VirtError.invalidArg("invalid value of 0 for iothread_id", domain: .qemu)
        }
        try await state.object(domain).changeIOThread(.delete, id: id, flags: flags)
    }

    public func pinIOThread(_ domain: DomainRef, id: UInt32, cpumap: [UInt8], flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainPinIOThread")
        try await state.object(domain).pinIOThread(id, cpumap: cpumap, flags: flags)
    }

    public func setIOThreadParams(_ domain: DomainRef, id: UInt32, params: [TypedParam], flags: UInt32) async throws {
        try Self.checkFlags(flags, allowed: 1 | 2, "qemuDomainSetIOThreadParams")
        try TypedParam.validate(params, [IOThreadParam.pollMaxNs: 4, IOThreadParam.pollGrow: 2,
                                         IOThreadParam.pollShrink: 2, IOThreadParam.threadPoolMin: 1,
                                         IOThreadParam.threadPoolMax: 1])
        let change = try QEMUIOThreadChange(params)
        try await state.object(domain).changeIOThread(.modify(change), id: id, flags: flags)
    }
}

/// The values of virDomainSetIOThreadParams, checked as libvirt's qemuDomainIOThreadParseParams does.
struct QEMUIOThreadChange: Sendable {
    var pollMaxNs: UInt64?
    var pollGrow: UInt32?
    var pollShrink: UInt32?
    var threadPoolMin: Int32?
    var threadPoolMax: Int32?

    init(_ params: [TypedParam]) throws(VirtError) {
        for p in params {
            switch (p.field, p.value) {
            case (IOThreadParam.pollMaxNs, .ullong(let v)): pollMaxNs = v
            case (IOThreadParam.pollGrow, .uint(let v)): pollGrow = v
            case (IOThreadParam.pollShrink, .uint(let v)): pollShrink = v
            case (IOThreadParam.threadPoolMin, .int(let v)): threadPoolMin = v
            case (IOThreadParam.threadPoolMax, .int(let v)): threadPoolMax = v
            default: break
            }
        }
        if let v = pollMaxNs, v > UInt64(Int32.max) {
            throw VirtError.configUnsupported("poll-max-ns (\(v)) must be less than or equal to \(Int32.max)", domain: .qemu)
        }
        if let v = pollGrow, v > UInt32(Int32.max) {
            throw VirtError.configUnsupported("poll-grow (\(v)) must be less than or equal to \(Int32.max)", domain: .qemu)
        }
        if let v = pollShrink, v > UInt32(Int32.max) {
            throw VirtError.configUnsupported("poll-shrink (\(v)) must be less than or equal to \(Int32.max)", domain: .qemu)
        }
        if let v = threadPoolMin, v < -1 {
            throw VirtError.configUnsupported("thread_pool_min (\(v)) must be equal to or greater than -1", domain: .qemu)
        }
        if let v = threadPoolMax, v < -1 || v == 0 {
            throw VirtError.configUnsupported("thread_pool_max (\(v)) must be a positive number or -1", domain: .qemu)
        }
    }

    var hasPolling: Bool { pollMaxNs != nil || pollGrow != nil || pollShrink != nil }

    /// The thread pool bounds applied to an IOThread (-1: QEMU's default, no attribute), refused when the
    /// minimum would exceed the maximum (libvirt's qemuDomainIOThreadValidate).
    func apply(to t: inout IOThreadID) throws(VirtError) {
        if let v = threadPoolMin { t.threadPoolMin = v == -1 ? nil : v }
        if let v = threadPoolMax { t.threadPoolMax = v == -1 ? nil : v }
        if let lo = t.threadPoolMin, let hi = t.threadPoolMax, lo > hi {
            throw VirtError.operationInvalid("thread_pool_min (\(lo)) can't be greater than thread_pool_max (\(hi))",
                                             domain: .qemu)
        }
    }
}

enum QEMUIOThreadAction: Sendable {
    case add
    case delete
    case modify(QEMUIOThreadChange)
}

extension QEMUDomainObject {
    /// libvirt's qemuDomainChgIOThread: the live change through QEMU first, then the persistent definition.
    func changeIOThread(_ action: QEMUIOThreadAction, id: UInt32, flags: UInt32) async throws(VirtError) {
        try await beginJob(.modify, owner: "chgIOThread")
        defer { endJob() }
        let t = try targets(flags)
        // Every check on both definitions before anything changes.
        var persistent = definition
        // libvirt edits a copy of the persistent definition made by formatting and parsing it again.
        persistent.forgetIOThreadAutofill()
        if t.config {
            switch action {
            case .add: try persistent.addIOThread(id)
            case .delete: try persistent.removeIOThread(id)
            case .modify(let change):
                guard let i = persistent.iothreadIDs.firstIndex(where: { $0.id == id })
                        ?? persistent.allIOThreadIDs.firstIndex(where: { $0.id == id }) else {
                    throw VirtError.invalidArg("cannot find IOThread '\(id)' in iothreadids", domain: .qemu)
                }
                if change.hasPolling {
                    throw VirtError.operationUnsupported("configuring persistent polling values is not supported")
                }
                var ids = persistent.allIOThreadIDs
                try change.apply(to: &ids[i])
                persistent.iothreadIDs = ids
            }
        }
        if t.live { try await changeIOThreadLive(action, id: id) }
        if t.config {
            definition = persistent
            try saveConfig()
        }
    }

    private func changeIOThreadLive(_ action: QEMUIOThreadAction, id: UInt32) async throws(VirtError) {
        let m = try requireRunning()
        guard var live = liveDefinition else { return }
        let alias = "iothread\(id)"
        switch action {
        case .add:
            var next = live
            try next.addIOThread(id)
            try await m.execute("object-add", arguments: ["qom-type": .string("iothread"), "id": .string(alias)])
            liveDefinition = next
            writeStatus()
            // libvirt's qemuProcessSetupIOThread: the new thread's affinity.
            if let tid = try await iothreadThreads(m)[id] {
                let set = next.cputune?.iothreadPins.first { $0.id == id }?.cpuset ?? next.vcpuCPUSet
                    ?? Self.onlineCPUs()
                try? Self.setAffinity(tid, set)
                try placeAddedIOThread(id, tid: tid, tune: next.cputune)
            }
        case .delete:
            try live.removeIOThread(id)
            try await m.execute("object-del", arguments: ["id": .string(alias)])
            liveDefinition = live
            writeStatus()
            cgroup?.removeIOThread(id)
        case .modify(let change):
            guard let i = live.allIOThreadIDs.firstIndex(where: { $0.id == id }) else {
                throw VirtError.invalidArg("cannot find IOThread '\(id)' in iothreadids", domain: .qemu)
            }
            var ids = live.allIOThreadIDs
            try change.apply(to: &ids[i])
            let path = "/objects/" + alias
            func set(_ property: String, _ value: Int64) async throws(VirtError) {
                try await m.execute("qom-set", arguments: ["path": .string(path), "property": .string(property),
                                                           "value": .int(value)])
            }
            if let v = change.pollMaxNs { try await set("poll-max-ns", Int64(v)) }
            if let v = change.pollGrow { try await set("poll-grow", Int64(v)) }
            if let v = change.pollShrink { try await set("poll-shrink", Int64(v)) }
            if let v = change.threadPoolMin { try await set("thread-pool-min", Int64(v)) }
            if let v = change.threadPoolMax { try await set("thread-pool-max", Int64(v)) }
            if change.threadPoolMin != nil || change.threadPoolMax != nil {
                live.iothreadIDs = ids
                liveDefinition = live
                writeStatus()
            }
        }
    }

    /// The host thread of each IOThread QEMU runs (`query-iothreads`), by id.
    func iothreadThreads(_ m: QMPMonitor) async throws(VirtError) -> [UInt32: pid_t] {
        var out: [UInt32: pid_t] = [:]
        for e in try await m.execute("query-iothreads").arrayValue ?? [] {
            guard let name = e["id"]?.stringValue, name.hasPrefix("iothread"),
                  let id = UInt32(name.dropFirst("iothread".count)), let tid = e["thread-id"]?.intValue else { continue }
            out[id] = pid_t(truncatingIfNeeded: tid)
        }
        return out
    }

    /// libvirt's qemuDomainPinIOThread: the thread's affinity and the live `<iothreadpin>` (with a TUNABLE
    /// event), and/or the persistent one.
    func pinIOThread(_ id: UInt32, cpumap: [UInt8], flags: UInt32) async throws(VirtError) {
        try await beginJob(.modify, owner: "pinIOThread")
        defer { endJob() }
        let t = try targets(flags)
        let set = CPUMap.set(cpumap)
        if set.isEmpty { throw VirtError.invalidArg("Empty iothread cpumap list for pinning", domain: .qemu) }
        if t.live, let m = monitor, var live = liveDefinition {
            guard live.allIOThreadIDs.contains(where: { $0.id == id }) else {
                throw VirtError.invalidArg("iothread \(id) not found", domain: .qemu)
            }
            guard let tid = try await iothreadThreads(m)[id] else {
                throw VirtError.invalidArg("iothread value \(id) not found", domain: .qemu)
            }
            try Self.setAffinity(tid, set)
            live.setIOThreadPin(id, set)
            liveDefinition = live
            writeStatus()
            emit(DomainEventRecord(domain: ref, kind: .tunable(params: [
                TypedParam("cputune.iothreadpin\(id)", .string(set.description))])))
        }
        if t.config {
            guard definition.allIOThreadIDs.contains(where: { $0.id == id }) else {
                throw VirtError.invalidArg("iothreadid \(id) not found", domain: .qemu)
            }
            definition.setIOThreadPin(id, set)
            try saveConfig()
        }
    }
}
