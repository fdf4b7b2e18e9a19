import Foundation
import Testing
import VirtTestSupport

/// `nodedev-event` through our daemon, as `VshPoolEventTests` does for pools: virsh and vsh listen for lifecycle
/// events (of every device, and of the vHBA by name) on virtd's test driver while a third client (virsh) creates
/// and destroys a vHBA until every listener has printed its one event and exited; each output must be virsh's
/// text for one of the events that can come first. A listener for update events (the test driver sends none)
/// must time out as virsh's does.
@Suite struct VshNodeDeviceEventTests {
    @Test func oneShotNodeDeviceEventsPrintAsVirsh() throws {
        let env = try VshEnvironment.shared()
        let virtd = try VshEventTests.virtdBinary()
        let dir = URL(fileURLWithPath: try TestPaths.makeTempDir("vsh-nodedev-event"))
        defer { try? FileManager.default.removeItem(at: dir) }
        let environment = ChildProcess.environment(removing: ["LIBVIRT_DEFAULT_URI"])
        let vhba = dir.appendingPathComponent("vhba.xml").path
        try ("<device><parent>scsi_host1</parent><capability type='scsi_host'><capability type='fc_host'>"
            + "<wwnn>2000000012345678</wwnn><wwpn>1000000012345678</wwpn></capability></capability></device>\n")
            .write(toFile: vhba, atomically: true, encoding: .utf8)

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

        // Update events never come: both time out alike.
        let timeouts = try [env.virsh, env.vsh].map { client in
            try ChildProcess.run([client, "-c", uri, "nodedev-event --event update --timeout 1 --loop"],
                                 environment: environment, input: .open, timeLimit: 30)
        }
        #expect(timeouts[0].stdout == "event loop timed out\nevents received: 0\n\n")
        #expect(timeouts[1].stdout == timeouts[0].stdout)
        #expect(timeouts[1].stderr == timeouts[0].stderr && timeouts[1].status == timeouts[0].status)

        var listeners: [(client: String, args: String, process: ChildProcess)] = []
        defer { listeners.forEach { $0.process.terminate() } }
        for client in [env.virsh, env.vsh] {
            for args in ["nodedev-event --event lifecycle --timeout 120", "nodedev-event computer lifecycle --timeout 120",
                         "nodedev-event --event lifecycle --timeout 120 --timestamp"] {
                let p = try ChildProcess.spawn([client, "-c", uri, args], environment: environment, input: .open,
                                               output: .capture)
                listeners.append((client, args, p))
            }
        }
        // The filtered listeners hear nothing of the vHBA; only the others are waited for.
        let unfiltered = listeners.filter { !$0.args.contains("computer") }
        var rounds = 0
        while unfiltered.contains(where: { $0.process.isRunning }) && rounds < 400 {
            let r = try ChildProcess.run([env.virsh, "-c", uri, "nodedev-create \(vhba); nodedev-destroy scsi_host12"],
                                         environment: environment, input: .open, timeLimit: 30)
            #expect(r.status == 0, "actor failed: \(r.stderr)")
            rounds += 1
        }
        for l in listeners {
            if l.args.contains("computer") {
                #expect(l.process.isRunning, "\(l.client) \(l.args) ended on another device's event")
                l.process.terminate()
                continue
            }
            let r = try l.process.finish(timeLimit: 30)
            var text = r.stdout
            if l.args.contains("--timestamp") {
                // "YYYY-MM-DD HH:MM:SS.mmm+0000: " before the event.
                text = text.replacingOccurrences(of: #"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+\+0000: "#, with: "",
                                                 options: .regularExpression)
                #expect(text != r.stdout, "\(l.client) printed no timestamp: \(r.stdout.debugDescription)")
            }
            let allowed = ["Created", "Deleted"].map {
                "event 'lifecycle' for node device scsi_host12: \($0)\nevents received: 1\n\n"
            }
            #expect(allowed.contains(text), "\(l.client) \(l.args) printed \(r.stdout.debugDescription)")
            #expect(r.stderr == "", "\(l.client) stderr \(r.stderr.debugDescription)")
            #expect(r.status == 0, "\(l.client) exit status \(r.status)")
        }
    }
}
