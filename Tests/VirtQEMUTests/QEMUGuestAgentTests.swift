import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// The guest agent channel (`org.qemu.guest_agent.0`) and `shutdown`/`reboot --mode agent`, with the test
/// guest's agent (TCG), and libvirt 9.0's errors when the agent is not configured or not connected (KVM).
@Suite(.tags(.qemu, .kvm)) struct QEMUGuestAgentTests {
    static let agentChannel = "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"

    /// Boots the test guest (TCG) with `devices` besides a pty serial console; returns once it is ready.
    static func bootGuest(_ driver: QEMUDriver, name: String, extra: String = "", devices: String) async throws
        -> (DomainRef, any ByteStream, pid_t) {
        let guest = try TestGuest.load(format: 3)
        let xml = QEMUDriverTests.minimalXML(
            name: name, type: "qemu", extra: "<features><acpi/></features>" + extra,
            os: "<kernel>\(guest.kernel)</kernel><initrd>\(guest.initrd)</initrd><cmdline>\(guest.cmdline)</cmdline>",
            devices: "<serial type='pty'/>" + devices)
        // Persistent, so its state can be read after it stops.
        let dom = try await driver.start(try await driver.defineXML(xml, flags: []), flags: .startPaused)
        let pid = try await driver.pid(of: dom) ?? 0
        do {
            let console = try await driver.openConsole(dom, device: nil, flags: 0)
            try await driver.resume(dom)
            let boot = try await QEMUConsoleTests.readUntil(console, "SWIFTVIRT-GUEST-READY")
            #expect(boot.contains("SWIFTVIRT-GUEST-READY"))
            return (dom, console, pid)
        } catch {
            if pid > 0 { kill(pid, SIGKILL) }
            throw error
        }
    }

    /// Pings the guest's agent until it answers (at most 12 tries, each with libvirt's 5 s handshake).
    static func agentAnswers(_ driver: QEMUDriver, _ dom: DomainRef) async -> Bool {
        for _ in 0..<12 {
            if (try? await driver.qemuAgentCommand(dom, command: #"{"execute":"guest-ping"}"#, timeout: 10, flags: 0)) != nil {
                return true
            }
        }
        return false
    }

    /// Waits (bounded) until the live XML shows the agent channel in `state`.
    static func waitAgentState(_ driver: QEMUDriver, _ dom: DomainRef, _ state: String) async throws -> Bool {
        for _ in 0..<400 {
            let xml = try await driver.xmlDesc(dom, flags: [])
            if xml.contains("name='org.qemu.guest_agent.0' state='\(state)'") { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// The events up to and including the first `last`.
    static func until(_ it: inout AsyncStream<DomainEventRecord>.Iterator, _ last: DomainEventRecord.Kind) async
        -> [DomainEventRecord.Kind] {
        var out: [DomainEventRecord.Kind] = []
        while let e = await it.next() {
            out.append(e.kind)
            if e.kind == last { break }
        }
        return out
    }

    static func lifecycleOnly(_ it: inout AsyncStream<DomainEventRecord>.Iterator, _ n: Int) async
        -> [DomainEventRecord.Kind] {
        var out: [DomainEventRecord.Kind] = []
        while out.count < n, let e = await it.next() {
            guard case .lifecycle = e.kind else { continue }
            out.append(e.kind)
        }
        return out
    }

    /// `reboot --mode agent`: the guest agent's guest-shutdown (mode reboot) reboots the guest (REBOOT
    /// events, still running, the guest comes up again and reopens the port); `shutdown --mode agent`:
    /// SHUTDOWN/GUEST then STOPPED/SHUTDOWN, as libvirt 9.0 with the same guest.
    @Test func agentRebootAndShutdown() async throws {
        let root = try TestPaths.makeTempDir("ga")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        var events = driver.events().makeAsyncIterator()
        let (dom, console, pid) = try await Self.bootGuest(driver, name: "ga", devices: Self.agentChannel)
        defer { ProcFS.kill(pid, ifExecutable: "qemu-system") }
        // AGENT_LIFECYCLE as libvirt 9.0 (observed): disconnected/"domain started" before STARTED, then
        // connected/"channel event" when the guest's agent opens its port.
        #expect(await Self.until(&events, .agentLifecycle(state: 1, reason: 2)) == [
            .lifecycle(.defined(.added)), .agentLifecycle(state: 2, reason: 1), .lifecycle(.started(.booted)),
            .lifecycle(.suspended(.paused)), .lifecycle(.resumed(.unpaused)), .agentLifecycle(state: 1, reason: 2),
        ])
        #expect(try await Self.waitAgentState(driver, dom, "connected"))
        let live = try await driver.xmlDesc(dom, flags: [])
        let socket = root + "/lib/qemu/channel/target/domain-\(dom.id)-ga/org.qemu.guest_agent.0"
        #expect(live.contains("<source mode='bind' path='\(socket)'/>"))
        #expect(access(socket, F_OK) == 0)
        #expect(!(try await driver.xmlDesc(dom, flags: .inactive)).contains("state="))

        try await driver.reboot(dom, flags: .guestAgent)
        // The agent's reboot is a guest reset: the port closes, REBOOT (one or more: the kernel may try
        // several methods), and the agent of the rebooted guest connects again.
        let rebootEvents = await Self.until(&events, .agentLifecycle(state: 1, reason: 2))
        #expect(rebootEvents.filter { $0 != .reboot } == [.agentLifecycle(state: 2, reason: 2),
                                                          .agentLifecycle(state: 1, reason: 2)])
        #expect(rebootEvents.contains(.reboot))
        let again = try await QEMUConsoleTests.readUntil(console, "SWIFTVIRT-GUEST-READY")
        #expect(again.contains("SWIFTVIRT-GUEST-AGENT"))
        #expect(try await driver.state(dom).state == .running)
        #expect(try await Self.waitAgentState(driver, dom, "connected"))

        try await driver.shutdown(dom, flags: .guestAgent)
        // The guest may or may not close the agent's port before QEMU powers off (libvirt showed a
        // disconnected event first with the same guest; a powered-off guest need not close it).
        let shutdownEvents = await Self.until(&events, .lifecycle(.stopped(.shutdown)))
        #expect(shutdownEvents.filter { $0 != .agentLifecycle(state: 2, reason: 2) }
                == [.lifecycle(.shutdown(.guest)), .lifecycle(.stopped(.shutdown))], "\(shutdownEvents)")
        #expect(try await driver.state(dom) == .shutoff(.shutdown))
        #expect(access(root + "/lib/qemu/channel/target/domain-\(dom.id)-ga", F_OK) != 0)
        try? await console.finish()
    }

    /// The default mode prefers a connected agent (libvirt: no flags and an agent → agent first).
    @Test func defaultShutdownUsesConnectedAgent() async throws {
        let root = try TestPaths.makeTempDir("gad")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        let (dom, console, pid) = try await Self.bootGuest(driver, name: "gad", devices: Self.agentChannel)
        defer { ProcFS.kill(pid, ifExecutable: "qemu-system") }
        var events = driver.events().makeAsyncIterator()
        #expect(try await Self.waitAgentState(driver, dom, "connected"))
        // The agent answers first: the shutdown's handshake has libvirt's 5 s, after which it falls back to ACPI
        // (as libvirt), which a guest slowed down by a loaded machine could otherwise hit.
        #expect(await Self.agentAnswers(driver, dom))
        try await driver.shutdown(dom, flags: [])
        // The guest's agent announces itself on the console before powering off (the ACPI path would not).
        let out = try await QEMUConsoleTests.readUntil(console, "SWIFTVIRT-GUEST-AGENT-SHUTDOWN")
        #expect(out.contains("SWIFTVIRT-GUEST-AGENT-SHUTDOWN"))
        #expect(await Self.lifecycleOnly(&events, 2) == [.lifecycle(.shutdown(.guest)), .lifecycle(.stopped(.shutdown))])
        try? await console.finish()
    }

    /// A driver that takes over a running domain (as virtd after a restart) reconnects to its agent too:
    /// the live XML keeps the connected state and `shutdown --mode agent` works.
    @Test func agentAfterReconnect() async throws {
        let root = try TestPaths.makeTempDir("gar")
        defer { TestPaths.removeDir(root) }
        let first = try await QEMUDriver.openUnshared(root: root)
        let (dom, console, pid) = try await Self.bootGuest(first, name: "gar", devices: Self.agentChannel)
        defer { ProcFS.kill(pid, ifExecutable: "qemu-system") }
        #expect(try await Self.waitAgentState(first, dom, "connected"))
        try? await console.finish()
        await first.detachAll()
        let second = try await QEMUDriver.openUnshared(root: root)
        var events = second.events().makeAsyncIterator()
        #expect(try await second.xmlDesc(dom, flags: []).contains("name='org.qemu.guest_agent.0' state='connected'"))
        try await second.shutdown(dom, flags: .guestAgent)
        #expect(await Self.lifecycleOnly(&events, 2) == [.lifecycle(.shutdown(.guest)), .lifecycle(.stopped(.shutdown))])
        #expect(try await second.state(dom) == .shutoff(.shutdown))
    }

    static func expectError(_ code: VirtError.Code, _ message: String,
                            _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("no error; expected \(message)")
        } catch let e as VirtError {
            #expect(e.code == code)
            #expect(e.message == message)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    /// libvirt 9.0's errors (observed with its embedded driver): no agent configured, agent not connected
    /// (the guest never opened the port: KVM here boots no Linux), unsupported flags; ACPI allowed as well
    /// falls back to ACPI.
    @Test func agentErrors() async throws {
        try TestHost.requireKVM()
        let root = try TestPaths.makeTempDir("gae")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        let plain = try await driver.createXML(QEMUDriverTests.minimalXML(name: "plain"), flags: [])
        let pid1 = try await driver.pid(of: plain) ?? 0
        defer { ProcFS.kill(pid1, ifExecutable: "qemu-system") }
        await Self.expectError(.argumentUnsupported, "argument unsupported: QEMU guest agent is not configured") {
            try await driver.shutdown(plain, flags: .guestAgent)
        }
        await Self.expectError(.argumentUnsupported, "argument unsupported: QEMU guest agent is not configured") {
            try await driver.reboot(plain, flags: .guestAgent)
        }
        await Self.expectError(.invalidArg, "unsupported flags (0x4) in function qemuDomainShutdownFlags") {
            try await driver.shutdown(plain, flags: .initctl)
        }
        await Self.expectError(.invalidArg, "unsupported flags (0x8) in function qemuDomainReboot") {
            try await driver.reboot(plain, flags: .signal)
        }
        // Agent and ACPI: the agent is unavailable, ACPI is used.
        try await driver.shutdown(plain, flags: [.guestAgent, .acpiPowerButton])

        let withAgent = try await driver.createXML(
            QEMUDriverTests.minimalXML(name: "withagent", devices: Self.agentChannel), flags: [])
        let pid2 = try await driver.pid(of: withAgent) ?? 0
        defer { ProcFS.kill(pid2, ifExecutable: "qemu-system") }
        let live = try await driver.xmlDesc(withAgent, flags: [])
        #expect(live.contains("<target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/>"))
        #expect(live.contains("<alias name='channel0'/>"))
        await Self.expectError(.agentUnresponsive, "Guest agent is not responding: QEMU guest agent is not connected") {
            try await driver.shutdown(withAgent, flags: .guestAgent)
        }
        await Self.expectError(.agentUnresponsive, "Guest agent is not responding: QEMU guest agent is not connected") {
            try await driver.reboot(withAgent, flags: .guestAgent)
        }
        try await driver.suspend(withAgent)
        await Self.expectError(.operationInvalid, "Requested operation is not valid: domain is not running") {
            try await driver.shutdown(withAgent, flags: [])
        }
        try await driver.destroy(plain, flags: [])
        try await driver.destroy(withAgent, flags: [])
        #expect(access(root + "/lib/qemu/channel/target/domain-\(withAgent.id)-withagent", F_OK) != 0)
    }
}

/// `vsh shutdown/reboot --mode …` against `qemu:///embed` (each vsh a process of its own, taking the root
/// over from the one before): virsh's error lines for an agent that is not configured or not connected.
@Suite(.tags(.qemu, .kvm)) struct QEMUGuestAgentVshTests {
    static func vsh(_ root: String, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let r = try ChildProcess.run([TestPaths.vsh, "-c", "qemu:///embed?root=\(root)"] + args, timeLimit: 300)
        return (r.status, r.stdout, r.stderr)
    }

    @Test func shutdownModesThroughVsh() throws {
        try TestHost.requireKVM()
        let root = try TestPaths.makeTempDir("gav")
        defer { TestPaths.removeDir(root) }
        let xml = root + "/d.xml"
        try QEMUDriverTests.minimalXML(name: "gav", devices: QEMUGuestAgentTests.agentChannel)
            .write(toFile: xml, atomically: true, encoding: .utf8)
        try QEMUDriverTests.minimalXML(name: "plain").write(toFile: root + "/p.xml", atomically: true, encoding: .utf8)
        #expect(try Self.vsh(root, ["define", xml]).status == 0)
        #expect(try Self.vsh(root, ["define", root + "/p.xml"]).status == 0)
        let started = try Self.vsh(root, ["start", "gav"])
        #expect(started.status == 0, "\(started.err)")
        #expect(try Self.vsh(root, ["start", "plain"]).status == 0)
        let pids = ["gav", "plain"].compactMap { LinuxSys.readFile(root + "/run/qemu/\($0).pid").flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) } }
        defer { for p in pids { ProcFS.kill(p, ifExecutable: "qemu-system") } }
        #expect(pids.count == 2)

        let r1 = try Self.vsh(root, ["shutdown", "gav", "--mode", "agent"])
        #expect(r1.status != 0)
        #expect(r1.err == "error: Failed to shutdown domain 'gav'\n"
                + "error: Guest agent is not responding: QEMU guest agent is not connected\n", "\(r1.err)")
        let r2 = try Self.vsh(root, ["reboot", "plain", "--mode", "agent"])
        #expect(r2.status != 0)
        #expect(r2.err == "error: Failed to reboot domain 'plain'\n"
                + "error: argument unsupported: QEMU guest agent is not configured\n", "\(r2.err)")
        let r3 = try Self.vsh(root, ["shutdown", "plain", "--mode", "agent,acpi"])
        #expect(r3.status == 0, "\(r3.err)")
        #expect(r3.out == "Domain 'plain' is being shutdown\n\n")
        #expect(try Self.vsh(root, ["destroy", "gav"]).status == 0)
        #expect(try Self.vsh(root, ["destroy", "plain"]).status == 0)
    }
}
