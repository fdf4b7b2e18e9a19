import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

@Suite struct QEMUCapabilitiesTests {
    @Test(.tags(.qemu, .kvm)) func probeAndCache() async throws {
        try TestHost.requireKVM()
        let dir = try TestPaths.makeTempDir("caps")
        defer { TestPaths.removeDir(dir) }
        let cache = QEMUCapabilitiesCache(cacheDir: dir + "/cache", runDir: dir + "/run")
        let caps = try await cache.capabilities(for: TestHost.qemuBinary)
        #expect(caps.version.major == 7 && caps.version.minor == 2)
        #expect(caps.version.number >= 7_002_000)
        #expect(caps.kvmAvailable)
        #expect(caps.arch == "x86_64")
        #expect(caps.canonicalMachine("q35") == "pc-q35-7.2")
        #expect(caps.canonicalMachine("pc") == "pc-i440fx-7.2")
        #expect(caps.canonicalMachine("no-such") == nil)
        #expect(caps.defaultMachine == "pc-i440fx-7.2")
        #expect(caps.cpuModels.contains { $0.name == "qemu64" })
        #expect(caps.hasDevice("virtio-blk-pci"))
        #expect(caps.hasDevice("e1000"))
        #expect(caps.commands.contains("query-status"))
        #expect(await cache.probeCount == 1)

        // Same binary, same mtime: answered from memory, then from the cache file by a new cache.
        _ = try await cache.capabilities(for: TestHost.qemuBinary)
        #expect(await cache.probeCount == 1)
        let again = QEMUCapabilitiesCache(cacheDir: dir + "/cache", runDir: dir + "/run")
        #expect(try await again.capabilities(for: TestHost.qemuBinary) == caps)
        #expect(await again.probeCount == 0)

        // A binary with another mtime is probed again: a symlink-free copy stands in for an upgrade.
        let copy = dir + "/qemu-copy"
        try FileManager.default.copyItem(atPath: TestHost.qemuBinary, toPath: copy)
        let c2 = try await again.capabilities(for: copy)
        #expect(await again.probeCount == 1)
        #expect(c2.binaryPath == copy)
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, copy, &times, 0) == 0)
        let c3 = try await again.capabilities(for: copy)
        #expect(await again.probeCount == 2)
        #expect(c3.binaryMTime == "1000000.0")
    }

    @Test func missingBinary() async throws {
        let dir = try TestPaths.makeTempDir("caps")
        defer { TestPaths.removeDir(dir) }
        let cache = QEMUCapabilitiesCache(cacheDir: dir + "/cache", runDir: dir + "/run")
        await #expect(throws: VirtError.self) { try await cache.capabilities(for: dir + "/nope") }
    }
}
