import Foundation
import Testing
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// Runtime state files: replaced atomically, removed at once, their inodes freed by the reaper later.
@Suite struct AtomicFileTests {
    private func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "atomic-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    private func names(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    @Test func replacedStatusFileLeavesNothingBehind() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/d.status"
        for i in 0..<5 {
            try LinuxSys.writeFileAtomically(path, "state \(i)\n", durable: false)
            #expect(LinuxSys.readFile(path) == "state \(i)\n")
        }
        try LinuxSys.writeFileAtomically(dir + "/d.xml", "<domain/>\n")
        LinuxSys.Reaper.shared.drain()
        #expect(names(dir) == ["d.status", "d.xml"])
    }

    @Test func retiredFileIsGoneAtOnceAndFreedLater() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/d.status"
        try LinuxSys.writeFileAtomically(path, "one\n", durable: false)
        try LinuxSys.writeFileAtomically(path, "two\n", durable: false)
        // Held open, the file shows whether the retired inode is unlinked (st_nlink 0) once the reaper ran.
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        LinuxSys.retire(path)
        #expect(access(path, F_OK) != 0)
        LinuxSys.Reaper.shared.drain()
        var st = stat()
        #expect(fstat(fd, &st) == 0)
        #expect(st.st_nlink == 0)
        #expect(names(dir).isEmpty)
        // Retiring what is not there is harmless.
        LinuxSys.retire(path)
        LinuxSys.Reaper.shared.drain()
        #expect(names(dir).isEmpty)
    }

    @Test func sweepRemovesOnlyGraves() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for n in [".d.status.gone-12-3", ".d.xml.gone-1-1", "d.status", "d.xml", ".hidden", "x.gone-1-1"] {
            #expect(FileManager.default.createFile(atPath: dir + "/" + n, contents: Data("x".utf8)))
        }
        LinuxSys.sweepGraves(in: dir)
        #expect(names(dir) == [".hidden", "d.status", "d.xml", "x.gone-1-1"])
    }
}
