import Foundation
import Testing
import VirtTestSupport

/// `pool-event` through our daemon, as `VshEventTests` does for domains: virsh and vsh listen for lifecycle and
/// refresh events of `default-pool` on virtd's socket while a third client (virsh) stops, starts and refreshes
/// it until every listener has printed its one event and exited; each output must be virsh's text for one of
/// the events that can come first.
@Suite struct VshPoolEventTests {
    @Test func oneShotPoolEventsPrintAsVirsh() throws {
        let env = try VshEnvironment.shared()
        let virtd = try VshEventTests.virtdBinary()
        let dir = URL(fileURLWithPath: try TestPaths.makeTempDir("vsh-pool-event"))
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

        let kinds = ["lifecycle", "refresh"]
        var listeners: [(client: String, kind: String, process: ChildProcess)] = []
        defer { listeners.forEach { $0.process.terminate() } }
        for client in [env.virsh, env.vsh] {
            for kind in kinds {
                let p = try ChildProcess.spawn([client, "-c", uri, "pool-event --event \(kind) --pool default-pool --timeout 120"],
                                               environment: environment, input: .open, output: .capture)
                listeners.append((client, kind, p))
            }
        }
        var rounds = 0
        while listeners.contains(where: { $0.process.isRunning }) && rounds < 400 {
            let r = try ChildProcess.run([env.virsh, "-c", uri, "pool-destroy default-pool; pool-start default-pool; pool-refresh default-pool"],
                                         environment: environment, input: .open, timeLimit: 30)
            #expect(r.status == 0, "actor failed: \(r.stderr)")
            rounds += 1
        }
        for l in listeners {
            let r = try l.process.finish(timeLimit: 30)
            let allowed = l.kind == "refresh"
                ? ["event 'refresh' for storage pool default-pool\nevents received: 1\n\n"]
                : ["Stopped", "Started"].map { "event 'lifecycle' for storage pool default-pool: \($0)\nevents received: 1\n\n" }
            #expect(allowed.contains(r.stdout), "\(l.client) \(l.kind) printed \(r.stdout.debugDescription)")
            #expect(r.stderr == "", "\(l.client) stderr \(r.stderr.debugDescription)")
            #expect(r.status == 0, "\(l.client) exit status \(r.status)")
        }
    }
}
