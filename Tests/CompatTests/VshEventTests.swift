import Foundation
import Testing

/// `event` needs a second client to cause events, so it is compared through our daemon: virsh and vsh both
/// listen on virtd's socket while a third client (virsh) suspends and resumes `test` until both have
/// printed their one event and exited. Which of the two events a listener catches first depends on when it
/// registered, so each output must be virsh's text for one of them.
@Suite struct VshEventTests {
    @Test func oneShotLifecycleEventPrintsAsVirsh() throws {
        let env = try VshEnvironment.shared()
        let virtd = try Self.virtdBinary()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vsh-event-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let environment = ProcessInfo.processInfo.environment.filter { $0.key != "LIBVIRT_DEFAULT_URI" }

        let daemon = try ChildProcess.spawn([virtd, "--root", dir.path], environment: environment)
        defer { daemon.terminate() }
        let socket = dir.appendingPathComponent("run/virtd-sock").path
        var waited = 0
        while !FileManager.default.fileExists(atPath: socket) && !daemon.hasExited() && waited < 600 {
            usleep(50_000)
            waited += 1
        }
        try #require(FileManager.default.fileExists(atPath: socket), "virtd did not create \(socket)")
        let uri = "test+unix:///default?socket=\(socket)"

        let listeners = try [env.virsh, env.vsh].map {
            try ChildProcess.spawn([$0, "-c", uri, "event --event lifecycle --timeout 120"], environment: environment)
        }
        defer { listeners.forEach { $0.terminate() } }
        var rounds = 0
        while !listeners.allSatisfy({ $0.hasExited() }) && rounds < 400 {
            let r = try ChildProcess.run([env.virsh, "-c", uri, "suspend test; resume test"],
                                         environment: environment, timeLimitSeconds: 30)
            #expect(r.status == 0, "actor failed: \(r.stderr)")
            rounds += 1
        }
        let results = try listeners.map { try $0.finish(timeLimitSeconds: 30) }
        print("[vsh] event test: listeners exited after \(rounds) suspend/resume rounds: \(results.map(\.stdout))")
        let allowed = ["Suspended Paused", "Resumed Unpaused"].map {
            "event 'lifecycle' for domain 'test': \($0)\nevents received: 1\n\n"
        }
        for (name, r) in zip(["virsh", "vsh"], results) {
            #expect(allowed.contains(r.stdout), "\(name) printed \(r.stdout.debugDescription)")
            #expect(r.stderr == "", "\(name) stderr \(r.stderr.debugDescription)")
            #expect(r.status == 0, "\(name) exit status \(r.status)")
        }
    }

    static func virtdBinary() throws -> String {
        let buildDir = VshEnvironment.repoRoot.appendingPathComponent(".build")
        let triples = (try? FileManager.default.contentsOfDirectory(atPath: buildDir.path)) ?? []
        let candidates = [buildDir.appendingPathComponent("debug/virtd").path]
            + triples.map { buildDir.appendingPathComponent("\($0)/debug/virtd").path }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw VshEnvironment.Missing(description: "virtd not built under \(buildDir.path); run `swift build --build-tests`")
        }
        return found
    }
}
