import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// Helpers of the QEMU tests that need VirtQEMU (the rest is in VirtTestSupport).
enum QEMUTestSupport {
    /// Expects the process to run as `uid:gid` (real, effective, saved and filesystem ids) with exactly
    /// `groups` as supplementary groups and no capability left, from its /proc status.
    static func expectCredentials(of pid: pid_t, uid: uid_t, gid: gid_t, groups: Set<gid_t>,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        let st = ProcFS.status(pid)
        func ids(_ key: String) -> [UInt32] {
            (st[key] ?? "").split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { UInt32($0) }
        }
        #expect(ids("Uid") == [uid, uid, uid, uid], "Uid: \(st["Uid"] ?? "-")", sourceLocation: sourceLocation)
        #expect(ids("Gid") == [gid, gid, gid, gid], "Gid: \(st["Gid"] ?? "-")", sourceLocation: sourceLocation)
        #expect(Set(ids("Groups")) == groups, "Groups: \(st["Groups"] ?? "-")", sourceLocation: sourceLocation)
        for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            #expect(st[cap] == "0000000000000000", "\(cap): \(st[cap] ?? "-")", sourceLocation: sourceLocation)
        }
    }

    /// Reads from a connected socket until `marker` shows up (or EOF, or `deadlineSeconds` pass in total);
    /// returns everything read. Runs on its own thread.
    static func readUntil(fd: Int32, marker: String, deadlineSeconds: Int = 90) async -> String {
        await withCheckedContinuation { c in
            Thread.detachNewThread {
                var tv = timeval(tv_sec: 1, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                var got = [UInt8]()
                var buf = [UInt8](repeating: 0, count: 4096)
                let start = Date()
                while Date().timeIntervalSince(start) < Double(deadlineSeconds) {
                    let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if n == 0 { break }
                    if n < 0 { continue }
                    got.append(contentsOf: buf[0..<n])
                    if String(decoding: got, as: UTF8.self).contains(marker) { break }
                }
                c.resume(returning: String(decoding: got, as: UTF8.self))
            }
        }
    }

    /// Collects events from `monitor` until one named `name` arrives (or the stream ends).
    static func collectEvents(_ stream: AsyncStream<QMPEvent>, until name: String) async -> [QMPEvent] {
        var out: [QMPEvent] = []
        for await e in stream {
            out.append(e)
            if e.name == name { break }
        }
        return out
    }
}
