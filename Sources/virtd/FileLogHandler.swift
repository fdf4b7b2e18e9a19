import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler appending lines to a file (and optionally stderr).
struct FileLogHandler: LogHandler {
    final class Sink: Sendable {
        let fd: Int32
        let alsoStderr: Bool
        let lock = Mutex(())
        init(fd: Int32, alsoStderr: Bool) {
            self.fd = fd
            self.alsoStderr = alsoStderr
        }
        func write(_ s: String) {
            var s = s
            lock.withLock { _ in
                s.withUTF8 { b in
                    if fd >= 0 { _ = Glibc.write(fd, b.baseAddress, b.count) }
                    if alsoStderr { _ = Glibc.write(2, b.baseAddress, b.count) }
                }
            }
        }
    }

    let label: String
    let sink: Sink
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var tmv = tm()
        var secs = ts.tv_sec
        gmtime_r(&secs, &tmv)
        let stamp = String(format4(Int(tmv.tm_year) + 1900)) + "-" + two(Int(tmv.tm_mon) + 1) + "-" + two(Int(tmv.tm_mday))
            + " " + two(Int(tmv.tm_hour)) + ":" + two(Int(tmv.tm_min)) + ":" + two(Int(tmv.tm_sec)) + "."
            + String(Int(ts.tv_nsec) / 1_000_000 + 1000).dropFirst()
        sink.write("\(stamp)+0000: \(getpid()): \(level): \(label): \(message)\n")
    }

    private func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    private func format4(_ v: Int) -> String { "\(v)" }
}
