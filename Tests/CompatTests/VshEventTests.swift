import Foundation
import Testing
import VirtTestSupport

/// `event` needs a second client to cause events, so it is compared through our daemon: virsh and vsh both
/// listen on virtd's socket while a third client (virsh) suspends and resumes `test` until both have
/// printed their one event and exited. Which of the two events a listener catches first depends on when it
/// registered, so each output must be virsh's text for one of them.
@Suite struct VshEventTests {
    static let virshCloseRace = "error: One or more references were leaked after disconnect from the hypervisor\n"

    @Test func oneShotLifecycleEventPrintsAsVirsh() throws {
        let env = try VshEnvironment.shared()
        let virtd = try Self.virtdBinary()
        let dir = URL(fileURLWithPath: try TestPaths.makeTempDir("vsh-event"))
        defer { try? FileManager.default.removeItem(at: dir) }
        let environment = ChildProcess.environment(removing: ["LIBVIRT_DEFAULT_URI"])

        let daemon = try ChildProcess.spawn([virtd, "--root", dir.path], environment: environment, input: .open)
        defer { daemon.terminate() }
        let socket = dir.appendingPathComponent("run/virtd-sock").path
        var waited = 0
        while !FileManager.default.fileExists(atPath: socket) && daemon.isRunning && waited < 600 {
            usleep(50_000)
            waited += 1
        }
        try #require(FileManager.default.fileExists(atPath: socket), "virtd did not create \(socket)")
        let uri = "test+unix:///default?socket=\(socket)"

        let listeners = try [env.virsh, env.vsh].map {
            try ChildProcess.spawn([$0, "-c", uri, "event --event lifecycle --timeout 120"], environment: environment,
                                   input: .open, output: .capture)
        }
        defer { listeners.forEach { $0.terminate() } }
        var rounds = 0
        while listeners.contains(where: { $0.isRunning }) && rounds < 400 {
            let r = try ChildProcess.run([env.virsh, "-c", uri, "suspend test; resume test"],
                                         environment: environment, input: .open, timeLimit: 30)
            #expect(r.status == 0, "actor failed: \(r.stderr)")
            rounds += 1
        }
        let results = try listeners.map { try $0.finish(timeLimit: 30) }
        print("[vsh] event test: listeners exited after \(rounds) suspend/resume rounds: \(results.map(\.stdout))")
        let allowed = ["Suspended Paused", "Resumed Unpaused"].map {
            "event 'lifecycle' for domain 'test': \($0)\nevents received: 1\n\n"
        }
        for (name, r) in zip(["virsh", "vsh"], results) {
            #expect(allowed.contains(r.stdout), "\(name) printed \(r.stdout.debugDescription)")
            // Debian's virsh may warn that its client library still held a reference when it closed (an event
            // that arrived while it disconnected after the first one: its own race, seen once on a loaded host).
            #expect(r.stderr == "" || (name == "virsh" && r.stderr == Self.virshCloseRace),
                    "\(name) stderr \(r.stderr.debugDescription)")
            #expect(r.status == 0, "\(name) exit status \(r.status)")
        }
    }

    /// The same for `net-event`: the actor stops and starts the test driver's network "default".
    @Test func oneShotNetworkLifecycleEventPrintsAsVirsh() throws {
        let env = try VshEnvironment.shared()
        let virtd = try Self.virtdBinary()
        let dir = URL(fileURLWithPath: try TestPaths.makeTempDir("vsh-net-event"))
        defer { try? FileManager.default.removeItem(at: dir) }
        let environment = ChildProcess.environment(removing: ["LIBVIRT_DEFAULT_URI"])
        let daemon = try ChildProcess.spawn([virtd, "--root", dir.path], environment: environment, input: .open)
        defer { daemon.terminate() }
        let socket = dir.appendingPathComponent("run/virtd-sock").path
        var waited = 0
        while !FileManager.default.fileExists(atPath: socket) && daemon.isRunning && waited < 600 {
            usleep(50_000)
            waited += 1
        }
        try #require(FileManager.default.fileExists(atPath: socket), "virtd did not create \(socket)")
        let uri = "test+unix:///default?socket=\(socket)"
        let listeners = try [env.virsh, env.vsh].map {
            try ChildProcess.spawn([$0, "-c", uri, "net-event --event lifecycle --timeout 120"], environment: environment,
                                   input: .open, output: .capture)
        }
        defer { listeners.forEach { $0.terminate() } }
        var rounds = 0
        while listeners.contains(where: { $0.isRunning }) && rounds < 400 {
            let r = try ChildProcess.run([env.virsh, "-c", uri, "net-destroy default; net-start default"],
                                         environment: environment, input: .open, timeLimit: 30)
            #expect(r.status == 0, "actor failed: \(r.stderr)")
            rounds += 1
        }
        let results = try listeners.map { try $0.finish(timeLimit: 30) }
        let allowed = ["Stopped", "Started"].map { "event 'lifecycle' for network default: \($0)\nevents received: 1\n\n" }
        for (name, r) in zip(["virsh", "vsh"], results) {
            #expect(allowed.contains(r.stdout), "\(name) printed \(r.stdout.debugDescription)")
            // Debian's virsh may warn that its client library still held a reference when it closed (an event
            // that arrived while it disconnected after the first one: its own race, seen once on a loaded host).
            #expect(r.stderr == "" || (name == "virsh" && r.stderr == Self.virshCloseRace),
                    "\(name) stderr \(r.stderr.debugDescription)")
            #expect(r.status == 0, "\(name) exit status \(r.status)")
        }
    }

    static func virtdBinary() throws -> String {
        let virtd = TestPaths.virtd
        guard FileManager.default.isExecutableFile(atPath: virtd) else {
            throw VshEnvironment.Missing(description: "virtd not built under \(TestPaths.repoRoot)/.build; run `swift build --build-tests`")
        }
        return virtd
    }
}
