import Foundation
import Testing
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// Shared helpers of the QEMU tests: temp dirs, the QEMU binary, the test guest, KVM presence.
enum QEMUTestSupport {
    static let qemuBinary = "/usr/bin/qemu-system-x86_64"

    /// The repository root, found from this file's path.
    static var repoRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// A fresh directory under /tmp (short, so unix socket paths fit), removed by `cleanup`.
    static func makeTempDir(_ tag: String = "qemu") throws -> String {
        var template = Array("/tmp/svq-\(tag)-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw VirtError(.systemError, "mkdtemp failed") }
        return String(cString: p)
    }

    static func removeDir(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Fails (never skips) when /dev/kvm is missing.
    static func requireKVM() throws {
        guard access("/dev/kvm", R_OK | W_OK) == 0 else {
            Issue.record("/dev/kvm is missing or not accessible: the KVM tests need it")
            throw VirtError(.internalError, "no /dev/kvm")
        }
    }

    /// The fields of /proc/PID/status (`Uid`, `Gid`, `Groups`, `CapEff`, …), values as the kernel prints them.
    static func processStatus(_ pid: pid_t) -> [String: String] {
        var out: [String: String] = [:]
        for line in (LinuxSys.readFile("/proc/\(pid)/status") ?? "").split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            out[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    /// Expects the process to run as `uid:gid` (real, effective, saved and filesystem ids) with exactly
    /// `groups` as supplementary groups and no capability left, from its /proc status.
    static func expectCredentials(of pid: pid_t, uid: uid_t, gid: gid_t, groups: Set<gid_t>,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        let st = processStatus(pid)
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

    /// The unprivileged user QEMU runs as in the DAC tests: Debian's `libvirt-qemu` (libvirt-daemon-system),
    /// whose access to /dev/kvm comes from its membership in the `kvm` group.
    static func qemuUser() throws -> (name: String, uid: uid_t, gid: gid_t) {
        guard let pw = getpwnam("libvirt-qemu") else {
            Issue.record("the user libvirt-qemu is missing: install libvirt-daemon-system (scripts/install-deps.sh)")
            throw VirtError(.internalError, "no libvirt-qemu user")
        }
        return ("libvirt-qemu", pw.pointee.pw_uid, pw.pointee.pw_gid)
    }

    /// The gid of a group, by name (fails the test when it is missing).
    static func groupID(_ name: String) throws -> gid_t {
        guard let gr = getgrnam(name) else {
            Issue.record("the group \(name) is missing")
            throw VirtError(.internalError, "no group \(name)")
        }
        return gr.pointee.gr_gid
    }

    struct Guest {
        var kernel: String
        var initrd: String
        var cmdline: String
    }

    /// The test guest built by scripts/build-test-guest.sh (fails when it is missing, or older than
    /// `format`: 3 has the guest agent and pvpanic).
    static func guest(format: Int = 0) throws -> Guest {
        let dir = repoRoot + "/.build/test-guest"
        let built = Int((try? String(contentsOfFile: dir + "/FORMAT", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        if built < format {
            Issue.record("the test guest is older than format \(format): run scripts/build-test-guest.sh")
            throw VirtError(.internalError, "outdated test guest")
        }
        let cmdline = (try? String(contentsOfFile: dir + "/cmdline", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard let cmdline, access(dir + "/vmlinuz", R_OK) == 0, access(dir + "/initrd.img", R_OK) == 0 else {
            Issue.record("the test guest is missing: run scripts/build-test-guest.sh")
            throw VirtError(.internalError, "no test guest")
        }
        return Guest(kernel: dir + "/vmlinuz", initrd: dir + "/initrd.img", cmdline: cmdline)
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
