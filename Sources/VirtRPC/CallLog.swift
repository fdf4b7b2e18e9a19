import Logging
import Synchronization
import VirtCore

/// A value that names what a call is about, for the daemon's call log ("domain 'vm1'").
protocol CallSubject {
    var callSubject: String? { get }
}

extension DomainRef: CallSubject {
    var callSubject: String? { "domain '\(name)'" }
}

extension Optional: CallSubject where Wrapped: CallSubject {
    var callSubject: String? { self?.callSubject }
}

// rpcgen puts the object a call is about first in its arguments.
extension XDRTuple2: CallSubject where A: CallSubject {
    var callSubject: String? { values.0.callSubject }
}

extension XDRTuple3: CallSubject where A: CallSubject {
    var callSubject: String? { values.0.callSubject }
}

extension XDRTuple4: CallSubject where A: CallSubject {
    var callSubject: String? { values.0.callSubject }
}

extension XDRTuple5: CallSubject where A: CallSubject {
    var callSubject: String? { values.0.callSubject }
}

/// What the log line of one call needs from inside its row: the object it was about, taken from the
/// decoded arguments (or, for lookups and defines, from the result). Only made when call logging is on.
final class CallRecord: Sendable {
    private let subjectBox = Mutex<String?>(nil)

    var subject: String? { subjectBox.withLock { $0 } }

    func note<T>(_ value: T) {
        guard subject == nil, let s = (value as? any CallSubject)?.callSubject else { return }
        subjectBox.withLock { $0 = s }
    }
}

/// The daemon's log of calls: every call at debug level (procedure, client, object, duration, result),
/// every failed call at warning level. Costs nothing beyond a level check when neither level is enabled.
struct CallLog: Sendable {
    let logger: Logger

    /// True when successful calls are logged (debug), so a record and timing are worth making.
    var enabled: Bool { logger.logLevel <= .warning }
    var debug: Bool { logger.logLevel <= .debug }

    func finished(_ info: ProcedureInfo?, _ h: RPCHeader, client: UInt64, identity: ClientIdentity, record: CallRecord?,
                  started: ContinuousClock.Instant, error: VirtError?) {
        let elapsed = ContinuousClock.now - started
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var name = info?.name ?? "\(h.procedure)"
        if name.hasPrefix("REMOTE_PROC_") { name.removeFirst(12) }
        if name.hasPrefix("QEMU_PROC_") { name = "QEMU_" + name.dropFirst(10) }
        var head = "call \(name) (\(h.procedure)) client \(client)"
        if let uid = identity.uid { head += " uid \(uid)" }
        if let dn = identity.x509DN { head += " dn '\(dn)'" }
        if let s = record?.subject { head += " " + s }
        let took = String(format3(ms))
        if let error {
            logger.warning("\(head): failed in \(took) ms: \(error.message) (code \(error.code.rawValue))")
        } else if debug {
            logger.debug("\(head): ok in \(took) ms")
        }
    }

    private func format3(_ v: Double) -> String {
        let scaled = Int((v * 1000).rounded())
        let frac = scaled % 1000
        return "\(scaled / 1000)." + String(String(frac + 1000).dropFirst())
    }
}
