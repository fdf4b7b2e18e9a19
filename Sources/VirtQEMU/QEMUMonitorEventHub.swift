import Foundation
import Synchronization
import VirtCore

/// Every QMP event of every domain of a driver root, for virConnectDomainQemuMonitorEventRegister (libvirt's
/// qemuProcessHandleEvent forwards each event before the driver handles it).
enum QEMUMonitorEventHub {
    private static let buses = Mutex<[String: EventBus<QEMUMonitorEventRecord>]>([:])

    static func bus(for root: String) -> EventBus<QEMUMonitorEventRecord> {
        buses.withLock { b in
            if let bus = b[root] { return bus }
            let bus = EventBus<QEMUMonitorEventRecord>()
            b[root] = bus
            return bus
        }
    }

    static func publish(_ ev: QMPEvent, domain: DomainRef, root: String) {
        let micros = ev.timestampMicros
        bus(for: root).emit(QEMUMonitorEventRecord(domain: domain, event: ev.name, seconds: micros / 1_000_000,
                                                   micros: UInt32(clamping: micros % 1_000_000),
                                                   details: ev.dataText))
    }

    /// The value of member `name` of the top-level object in compact JSON text, as text.
    static func member(_ name: String, ofCompact text: String) -> String? {
        let bytes = Array(text.utf8)
        let key = Array("\"\(name)\":".utf8)
        var depth = 0, inString = false, escaped = false
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                i += 1
                continue
            }
            if depth == 1 && b == UInt8(ascii: "\"") && bytes[i...].starts(with: key) {
                // The value: up to the comma or brace that closes it at depth 1.
                let start = i + key.count
                var j = start, d = 0, s = false, e = false
                while j < bytes.count {
                    let c = bytes[j]
                    if s {
                        if e { e = false } else if c == UInt8(ascii: "\\") { e = true } else if c == UInt8(ascii: "\"") { s = false }
                    } else if c == UInt8(ascii: "\"") {
                        s = true
                    } else if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                        d += 1
                    } else if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") {
                        if d == 0 { break }
                        d -= 1
                    } else if c == UInt8(ascii: ","), d == 0 {
                        break
                    }
                    j += 1
                }
                return String(decoding: bytes[start..<j], as: UTF8.self)
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
            i += 1
        }
        return nil
    }
}

extension QEMUDriver {
    public func qemuMonitorEvents(domain: DomainRef?, event: String?, flags: UInt32) async throws
        -> AsyncStream<QEMUMonitorEventRecord> {
        let filter = try QEMUMonitorEventFilter(domain: domain?.uuid, event: event, flags: flags)
        if let domain { _ = try await state.object(domain) }
        let source = QEMUMonitorEventHub.bus(for: state.paths.root).subscribe()
        return AsyncStream { c in
            let task = Task {
                for await r in source where filter.matches(r) { c.yield(r) }
                c.finish()
            }
            c.onTermination = { _ in task.cancel() }
        }
    }
}
