import Foundation
import Synchronization
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

@Suite struct QMPMonitorTests {
    /// A bare KVM QEMU, paused (-S), started through our launcher.
    @Test(.tags(.qemu, .kvm)) func kvmMonitorCommandsAndEvents() async throws {
        try TestHost.requireKVM()
        let dir = try TestPaths.makeTempDir("qmp")
        defer { TestPaths.removeDir(dir) }
        let spec = ProcessLaunchSpec(
            binary: TestHost.qemuBinary,
            arguments: ["-machine", "q35", "-accel", "kvm", "-m", "128", "-S", "-nodefaults", "-no-user-config",
                        "-display", "none"] + QEMULauncher.monitorArguments(),
            logPath: dir + "/qemu.log", pidfilePath: dir + "/qemu.pid")
        let (process, monitor) = try await QEMULauncher.start(spec, monitorPath: dir + "/monitor.sock")
        defer { if process.exitWaiter.result == nil { kill(process.pid, SIGKILL) } }

        #expect(monitor.version.major == 7)
        #expect(LinuxSys.readFile(dir + "/qemu.pid") == "\(process.pid)\n")
        #expect(getsid(process.pid) == process.pid)  // own session: outlives the daemon

        let status = try await monitor.execute("query-status")
        #expect(status["status"]?.stringValue == "prelaunch")
        #expect(status["running"]?.boolValue == false)

        try await monitor.execute("cont")
        var it = monitor.events.makeAsyncIterator()
        let resume = await it.next()
        #expect(resume?.name == "RESUME")
        #expect(try await monitor.execute("query-status")["status"]?.stringValue == "running")

        try await monitor.execute("stop")
        #expect(await it.next()?.name == "STOP")
        #expect(try await monitor.execute("query-status")["status"]?.stringValue == "paused")

        // Replies are matched by id even when several commands are in flight.
        async let a = monitor.execute("query-kvm")
        async let b = monitor.execute("query-name")
        async let c = monitor.execute("query-uuid")
        let (ra, rb, rc) = try await (a, b, c)
        #expect(ra["enabled"]?.boolValue == true)
        #expect(rb.objectValue != nil)
        #expect(rc["UUID"]?.stringValue != nil)

        // QEMU's errors come back as libvirt words them.
        await #expect(throws: VirtError.internalError(
            "unable to execute QEMU command 'no-such-command': The command no-such-command has not been found",
            domain: .qemu)) {
            try await monitor.execute("no-such-command")
        }

        try await monitor.execute("quit")
        let end = await process.exitWaiter.wait()
        #expect(end == .exited(0))
        await monitor.waitClosed()
        #expect(monitor.isClosed)
        await #expect(throws: VirtError.self) { try await monitor.execute("query-status") }
    }

    /// A QEMU that fails at start: the error quotes its output.
    @Test(.tags(.qemu)) func startFailureQuotesQEMU() async throws {
        let dir = try TestPaths.makeTempDir("qmpfail")
        defer { TestPaths.removeDir(dir) }
        let spec = ProcessLaunchSpec(
            binary: TestHost.qemuBinary,
            arguments: ["-machine", "no-such-machine", "-nodefaults", "-display", "none"]
                + QEMULauncher.monitorArguments(),
            logPath: dir + "/qemu.log")
        do {
            let (p, _) = try await QEMULauncher.start(spec, monitorPath: dir + "/m.sock", vmName: "bad")
            kill(p.pid, SIGKILL)
            Issue.record("QEMU started with a bad machine")
        } catch {
            #expect(error.code == .internalError)
            #expect(error.message.hasPrefix("internal error: qemu unexpectedly closed the monitor: "))
            #expect(error.message.contains("unsupported machine type"))
        }
    }

    /// A socket pair standing for QEMU's monitor (seam tests): the client end for ``QMPMonitor/open``, the
    /// server end with QEMU 7.2's greeting already written.
    static func fakeServer() throws -> (client: Int32, server: Int32) {
        var fds: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let greeting = #"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}"#
        _ = LinuxSys.writeAll(fds[1], Array((greeting + "\r\n").utf8))
        return (fds[0], fds[1])
    }

    /// The timeout of a command, against a fake QMP server that never answers (a seam test).
    @Test func commandTimeout() async throws {
        let (client, server) = try Self.fakeServer()
        defer { close(server) }
        // Answer qmp_capabilities (id libvirt-1), then stay silent.
        Thread.detachNewThread {
            var buf = [UInt8](repeating: 0, count: 4096)
            _ = buf.withUnsafeMutableBytes { recv(server, $0.baseAddress, $0.count, 0) }
            _ = LinuxSys.writeAll(server, Array(#"{"return": {}, "id": "libvirt-1"}"#.utf8 + [10]))
            _ = LinuxSys.writeAll(server, Array(#"{"event": "X", "data": {"a": 1}, "timestamp": {"seconds": 2, "microseconds": 3}}"#.utf8 + [10]))
        }
        let monitor = try await QMPMonitor.open(fd: client, timeout: .seconds(10))
        var it = monitor.events.makeAsyncIterator()
        let ev = await it.next()
        var expected = QMPEvent(name: "X", data: ["a": 1], timestampMicros: 2_000_003)
        expected.sequence = 1
        // The data member as QEMU wrote it, compact (what qemu-monitor-event forwards).
        expected.dataText = #"{"a":1}"#
        #expect(ev == expected)
        #expect(monitor.eventCount == 1)
        do {
            try await monitor.execute("query-status", timeout: .milliseconds(200))
            Issue.record("no timeout")
        } catch {
            #expect(error.code == .operationTimeout)
            #expect(error.message.contains("query-status"))
        }
        // A short deadline set while a longer one is armed still ends on time (the reader re-arms for it):
        // it fails while the long one (10 minutes) still waits, which only the monitor's close ends; the
        // monitor counts as busy while a command waits.
        let order = OrderRecorder()
        async let long: Void = {
            do throws(VirtError) { try await monitor.execute("query-long", timeout: .seconds(600)) } catch {
                await order.add(error.code == .operationTimeout ? "long timed out" : "long failed")
            }
        }()
        // Once the long one is in flight (its task may start late on a busy machine).
        for _ in 0..<3000 where monitor.busySince == nil { try await Task.sleep(for: .milliseconds(10)) }
        #expect(monitor.busySince != nil)
        do {
            try await monitor.execute("query-short", timeout: .milliseconds(200))
        } catch {
            await order.add(error.code == .operationTimeout ? "short timed out" : "short \(error)")
        }
        #expect(monitor.busySince != nil)
        monitor.close()
        _ = await long
        let finished = await order.items
        #expect(finished == ["short timed out", "long failed"], "\(finished)")
        #expect(monitor.busySince == nil)
        await monitor.waitClosed()
        #expect(await it.next() == nil)
        await #expect(throws: VirtError.self) { try await monitor.execute("query-status") }
    }

    /// Commands sent in order without waiting for each reply (a seam test): the fake server reads all three
    /// before it answers any, answers them in reverse order, and fails the second; each caller gets its own.
    @Test func commandsInOrder() async throws {
        let (client, server) = try Self.fakeServer()
        defer { close(server) }
        let seen = Mutex<[String]>([])
        Thread.detachNewThread {
            var text = ""
            var buf = [UInt8](repeating: 0, count: 4096)
            func readLines(until count: Int) {
                while text.split(whereSeparator: \.isNewline).count < count {
                    let n = buf.withUnsafeMutableBytes { recv(server, $0.baseAddress, $0.count, 0) }
                    if n <= 0 { return }
                    text += String(decoding: buf[0..<n], as: UTF8.self)
                }
            }
            readLines(until: 1)
            _ = LinuxSys.writeAll(server, Array(#"{"return": {}, "id": "libvirt-1"}"#.utf8 + [10]))
            readLines(until: 4)
            seen.withLock { $0 = text.split(whereSeparator: \.isNewline).map(String.init) }
            for reply in [#"{"return": {"n": 3}, "id": "libvirt-4"}"#,
                          #"{"error": {"class": "GenericError", "desc": "no"}, "id": "libvirt-3"}"#,
                          #"{"return": {"n": 1}, "id": "libvirt-2"}"#] {
                _ = LinuxSys.writeAll(server, Array(reply.utf8 + [10]))
            }
        }
        let monitor = try await QMPMonitor.open(fd: client, timeout: .seconds(10))
        defer { monitor.close() }
        let replies = await monitor.executeInOrder([QMPCommand("one"), QMPCommand("two", arguments: ["a": 1]),
                                                    QMPCommand("three")], timeout: .seconds(30))
        let names = seen.withLock { $0 }.dropFirst().map { try? JSONValue.parse($0)["execute"]?.stringValue }
        #expect(names == ["one", "two", "three"])
        #expect(try replies[0].get()["n"]?.intValue == 1)
        #expect(throws: VirtError.self) { try replies[1].get() }
        if case .failure(let e) = replies[1] { #expect(e.message == "internal error: unable to execute QEMU command 'two': no") }
        #expect(try replies[2].get()["n"]?.intValue == 3)
    }
}

/// What finished, in order.
private actor OrderRecorder {
    var items: [String] = []
    func add(_ s: String) { items.append(s) }
}
