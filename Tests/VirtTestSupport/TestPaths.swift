import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where things are: the repository, the built executables, the test guest, scratch directories.
public enum TestPaths {
    /// The repository root, found from this file's path (Tests/VirtTestSupport/TestPaths.swift).
    public static let repoRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// A built executable of the package (`virtd`, `vsh`): SwiftPM puts products beside the test bundle; else
    /// under .build/debug or .build/TRIPLE/debug.
    public static func product(_ name: String) -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<3 {
            let p = dir.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
            dir = dir.deletingLastPathComponent()
        }
        let build = repoRoot + "/.build"
        let triples = (try? FileManager.default.contentsOfDirectory(atPath: build)) ?? []
        let candidates = ["\(build)/debug/\(name)"] + triples.sorted().map { "\(build)/\($0)/debug/\(name)" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    /// The built `virtd`.
    public static var virtd: String { product("virtd") }
    /// The built `vsh`.
    public static var vsh: String { product("vsh") }

    /// The test guest's directory (scripts/build-test-guest.sh).
    public static var testGuest: String { repoRoot + "/.build/test-guest" }

    /// A fresh directory under /tmp (short, so unix socket paths fit), of mode `mode` (0755 lets QEMU's user
    /// traverse it). Remove it with ``removeDir(_:)``.
    public static func makeTempDir(_ tag: String = "t", mode: mode_t = 0o700) throws -> String {
        var template = Array("/tmp/sv-\(tag)-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else {
            throw TestSupportError("mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        let dir = String(cString: p)
        if mode != 0o700 { chmod(dir, mode) }
        return dir
    }

    /// Removes a directory tree, ignoring errors.
    public static func removeDir(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Runs `body` in a fresh directory, removed afterwards whatever happens.
    public static func withTempDir<T>(_ tag: String = "t", mode: mode_t = 0o700,
                                      _ body: (String) async throws -> T) async throws -> T {
        let dir = try makeTempDir(tag, mode: mode)
        defer { removeDir(dir) }
        return try await body(dir)
    }
}

/// Waits (up to a generous bound, so that a failure ends the test instead of hanging it) for `cond`; polls
/// every 20 ms and asks once more at the end.
public func eventually(_ seconds: Double = 60, _ cond: () throws -> Bool) rethrows -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if try cond() { return true }
        usleep(20_000)
    }
    return try cond()
}

/// Waits for a path to appear (a daemon's socket or pid file), up to `seconds`.
public func waitFor(path: String, seconds: Double = 20) -> Bool {
    eventually(seconds) { FileManager.default.fileExists(atPath: path) }
}
