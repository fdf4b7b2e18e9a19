#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Buffered standard output and unbuffered standard error, written with `write(2)`.
///
/// Standard output is flushed before anything goes to standard error, so that an interleaved terminal shows
/// both in order, as stdio does for virsh.
@MainActor
final class Output {
    private var buffer = [UInt8]()
    /// Receives what would be written to standard output (1) or standard error (2) instead (tests).
    var sink: ((_ fd: Int32, _ bytes: [UInt8]) -> Void)?

    init() {
        buffer.reserveCapacity(4096)
    }

    func out(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 16384 { flush() }
    }

    func err(_ text: String) {
        flush()
        if let sink { return sink(2, Array(text.utf8)) }
        Self.writeAll(2, Array(text.utf8))
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        if let sink { sink(1, buffer) } else { Self.writeAll(1, buffer) }
        buffer.removeAll(keepingCapacity: true)
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            guard var p = raw.baseAddress else { return }
            var left = raw.count
            while left > 0 {
                let n = write(fd, p, left)
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                left -= n
                p += n
            }
        }
    }
}
