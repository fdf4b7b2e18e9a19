import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// A daemon that dies while its VMs run (its driver state let go without stopping anything), and a new one
/// on the same root: running VMs are taken over, VMs that died meanwhile are shut off (crashed).
@Suite(.tags(.qemu, .kvm)) struct QEMUReconnectTests {
    @Test func reconnectAfterDaemonDeath() async throws {
        try TestHost.requireKVM()
        let root = try TestPaths.makeTempDir("rec")
        defer { TestPaths.removeDir(root) }
        let first = try await QEMUDriver.openUnshared(root: root)
        let keep = try await first.defineXML(QEMUDriverTests.minimalXML(name: "keep"), flags: [])
        let paused = try await first.createXML(QEMUDriverTests.minimalXML(name: "transient"), flags: .startPaused)
        let dies = try await first.defineXML(QEMUDriverTests.minimalXML(name: "dies"), flags: [])
        let k = try await first.start(keep, flags: [])
        _ = try await first.start(dies, flags: [])
        let keepPid = try #require(try await first.pid(of: keep))
        let pausedPid = try #require(try await first.pid(of: paused))
        let diesPid = try #require(try await first.pid(of: dies))
        defer {
            kill(keepPid, SIGKILL)
            kill(pausedPid, SIGKILL)
            kill(diesPid, SIGKILL)
        }
        await first.detachAll()
        // While no daemon watches, one VM dies.
        kill(diesPid, SIGKILL)
        while QEMUProcess.isAlive(diesPid) { try await Task.sleep(for: .milliseconds(5)) }

        let second = try await QEMUDriver.openUnshared(root: root)
        var events = second.events().makeAsyncIterator()
        #expect(try await second.state(keep) == .running(.booted))
        #expect(try await second.lookupDomain(name: "keep").id == k.id)
        #expect(try await second.pid(of: keep) == keepPid)
        #expect(try await second.state(paused) == .paused(.user))
        #expect(try await second.isPersistent(paused) == false)
        #expect(try await second.state(dies) == .shutoff(.crashed))
        #expect(try await second.lookupDomain(name: "dies").id == -1)

        // The taken-over VMs are fully managed: monitor, events, destroy (exit awaited through a pidfd).
        try await second.suspend(keep)
        #expect(await QEMUDriverTests.lifecycle(&events, 1) == [.suspended(.paused)])
        try await second.resume(paused)
        #expect(await QEMUDriverTests.lifecycle(&events, 1) == [.resumed(.unpaused)])
        try await second.destroy(keep, flags: [])
        #expect(await QEMUDriverTests.lifecycle(&events, 2) == [.shutdown(.host), .stopped(.destroyed)])
        #expect(!QEMUProcess.isAlive(keepPid))
        // A VM killed behind our back is noticed (pidfd), as a crash.
        kill(pausedPid, SIGKILL)
        #expect(await QEMUDriverTests.lifecycle(&events, 1) == [.stopped(.failed)])
        await #expect(throws: VirtError.self) { try await second.lookupDomain(name: "transient") }
        // A new start gets an id above the ones in use before.
        let again = try await second.start(dies, flags: .startPaused)
        #expect(again.id > k.id)
        try await second.destroy(dies, flags: [])
    }

    /// A daemon that dies in the middle of a save: the next one finds the save job in the status file, cancels
    /// QEMU's migration and lets the guest the save had paused run again (RUNNING, save-canceled), as libvirt's
    /// job recovery does. The save goes into a pipe nobody reads, so that it stays in flight.
    @Test func saveInFlightIsCancelledByTheNextDaemon() async throws {
        try TestHost.requireKVM()
        let root = try TestPaths.makeTempDir("recsave")
        defer { TestPaths.removeDir(root) }
        let first = try await QEMUDriver.openUnshared(root: root)
        let d = try await first.createXML(QEMUDriverTests.minimalXML(name: "saving"), flags: [])
        let pid = try #require(try await first.pid(of: d))
        defer { kill(pid, SIGKILL) }
        let fifo = root + "/image.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        // The reader end, never read: QEMU's stream stops once the pipe is full.
        let reader = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        #expect(reader >= 0)
        // Room for the image's header and XML (67 KiB, more than a pipe's default 64 KiB), not for QEMU's stream.
        #expect(fcntl(reader, 1031 /* F_SETPIPE_SZ */, 128 * 1024) >= 128 * 1024)
        defer { close(reader) }
        let saving = Task { try await first.save(d, to: fifo, xml: nil, flags: []) }
        let statusFile = QEMUDriverPaths(root: root).statusFile("saving")
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: statusFile, encoding: .utf8), text.contains("\"asyncJob\" : \"save\""),
               try await first.state(d) == .paused(.save) {
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await first.state(d) == .paused(.save))
        // The status file records the job, not the pause (a save writes it once): the next daemon finds QEMU
        // paused for a reason nobody recorded, which job recovery resumes as well.
        let text = (try? String(contentsOfFile: statusFile, encoding: .utf8)) ?? ""
        #expect(text.contains("\"asyncJob\" : \"save\"") && text.contains("\"state\" : 1"), "\(text)")
        try await Task.sleep(for: .milliseconds(200))  // QEMU is streaming into the full pipe
        await first.detachAll()
        _ = await saving.result  // the dying daemon's call ends without touching QEMU

        let second = try await QEMUDriver.openUnshared(root: root)
        #expect(try await second.pid(of: d) == pid)
        #expect(try await second.state(d) == .running(.saveCanceled))
        #expect(try await second.jobStats(d, completed: false, keepCompleted: false).type == 0)  // no job
        // The guest runs and is managed as before.
        try await second.suspend(d)
        #expect(try await second.state(d) == .paused(.user))
        try await second.destroy(d, flags: [])
        #expect(!QEMUProcess.isAlive(pid))
    }
}
