import Foundation
import Testing
import VirtTestSupport
import Virt
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// Lifecycle of real QEMU domains through `qemu:///embed?root=DIR`, with the event stream collected.
@Suite(.tags(.qemu, .kvm)) struct QEMUDriverTests {
    static func minimalXML(name: String, type: String = "kvm", extra: String = "", os: String = "",
                           devices: String = "") -> String {
        """
        <domain type='\(type)'>
          <name>\(name)</name>
          <memory unit='MiB'>128</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='q35'>hvm</type>\(os)</os>
          \(extra)
          <devices>\(devices)</devices>
        </domain>
        """
    }

    /// Reads the next `n` lifecycle events of the stream.
    static func lifecycle(_ it: inout AsyncStream<DomainEventRecord>.Iterator, _ n: Int) async -> [LifecycleEvent] {
        var out: [LifecycleEvent] = []
        while out.count < n, let e = await it.next() {
            if case .lifecycle(let l) = e.kind { out.append(l) }
        }
        return out
    }

    @Test func kvmLifecycleEvents() async throws {
        try TestHost.requireKVM()
        let root = try TestPaths.makeTempDir("drv")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        var events = driver.events().makeAsyncIterator()

        let dom = try await driver.defineXML(Self.minimalXML(name: "vm1"), flags: [])
        #expect(await Self.lifecycle(&events, 1) == [.defined(.added)])
        #expect(access(root + "/etc/qemu/vm1.xml", R_OK) == 0)
        #expect(try await driver.state(dom) == .shutoff(.unknown))

        let running = try await driver.start(dom, flags: [])
        let qemuPid = try await driver.pid(of: dom) ?? 0
        defer { ProcFS.kill(qemuPid, ifExecutable: "qemu-system") }
        #expect(running.id > 0)
        #expect(await Self.lifecycle(&events, 2) == [.resumed(.unpaused), .started(.booted)])
        #expect(try await driver.state(dom) == .running(.booted))
        let pid = try #require(try await driver.pid(of: dom))
        #expect(QEMUProcess.isAlive(pid))
        #expect(try await driver.lookupDomain(id: running.id).name == "vm1")
        let live = try await driver.xmlDesc(dom, flags: [])
        #expect(live.contains("<domain type='kvm' id='\(running.id)'>"))
        #expect(live.contains("machine='pc-q35-7.2'"))
        let status = LinuxSys.readFile(root + "/run/qemu/vm1.status") ?? ""
        #expect(status.contains("\"pid\" : \(pid)"))
        let info = try await driver.info(dom)
        #expect(info.state == .running && info.maxMemory == 131072 && info.vcpus == 1)
        #expect(info.cpuTime > 0)  // QEMU has used some CPU time to get this far
        let qmp = try await driver.qemuMonitorCommand(dom, command: #"{"execute":"query-status"}"#, flags: 0)
        #expect(qmp.contains(#""status":"running""#))

        try await driver.suspend(dom)
        #expect(await Self.lifecycle(&events, 1) == [.suspended(.paused)])
        #expect(try await driver.state(dom) == .paused(.user))
        try await driver.resume(dom)
        #expect(await Self.lifecycle(&events, 1) == [.resumed(.unpaused)])
        #expect(try await driver.state(dom) == .running(.unpaused))

        // libvirtd 9.0 reports QEMU's SHUTDOWN (host signal) of a destroy before STOPPED/DESTROYED.
        try await driver.destroy(dom, flags: [])
        #expect(await Self.lifecycle(&events, 2) == [.shutdown(.host), .stopped(.destroyed)])
        #expect(try await driver.state(dom) == .shutoff(.destroyed))
        #expect(!QEMUProcess.isAlive(pid))
        #expect(access(root + "/run/qemu/vm1.status", F_OK) != 0)
        await #expect(throws: VirtError.self) { try await driver.destroy(dom, flags: []) }

        // Paused start: STARTED/BOOTED then SUSPENDED/PAUSED.
        _ = try await driver.start(dom, flags: .startPaused)
        #expect(await Self.lifecycle(&events, 2) == [.started(.booted), .suspended(.paused)])
        #expect(try await driver.state(dom) == .paused(.user))

        // QEMU dying on its own: STOPPED/FAILED, shut off (crashed).
        let pid2 = try #require(try await driver.pid(of: dom))
        defer { ProcFS.kill(pid2, ifExecutable: "qemu-system") }
        kill(pid2, SIGKILL)
        #expect(await Self.lifecycle(&events, 1) == [.stopped(.failed)])
        #expect(try await driver.state(dom) == .shutoff(.crashed))
        let log = LinuxSys.readFile(root + "/log/qemu/vm1.log") ?? ""
        #expect(log.contains("QEMU exited unexpectedly"))

        try await driver.undefine(dom, flags: [])
        #expect(await Self.lifecycle(&events, 1) == [.undefined(.removed)])
        await #expect(throws: VirtError.self) { try await driver.lookupDomain(name: "vm1") }
    }

    @Test func definitionRulesAndPersistence() async throws {
        let root = try TestPaths.makeTempDir("drv")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        let a = try await driver.defineXML(Self.minimalXML(name: "a"), flags: [])
        // Same name, another uuid: refused.
        do {
            _ = try await driver.defineXML(Self.minimalXML(name: "a"), flags: [])
            Issue.record("redefined with another uuid")
        } catch let e as VirtError {
            #expect(e.message == "operation failed: domain 'a' is already defined with uuid \(a.uuid)")
        }
        await #expect(throws: VirtError.self) {
            try await driver.defineXML(Self.minimalXML(name: "t", type: "test"), flags: [])
        }
        // Another process (a new driver state) on the same root sees the definition.
        let again = try await QEMUDriver.open(ConnectionURI(parsing: "qemu:///embed?root=\(root)"))
        #expect(try await again.lookupDomain(name: "a").uuid == a.uuid)
        // Through the public API too.
        let conn = try await Connection.open("qemu:///embed?root=\(root)")
        #expect(try await conn.hypervisorType() == "QEMU")
        #expect(try await conn.lookupDomain(name: "a").uuid == a.uuid)
        await conn.close()
    }

    /// The test guest under TCG: boots, prints its marker on a serial port, and on `shutdown` (ACPI) powers
    /// off: SHUTDOWN/GUEST then STOPPED/SHUTDOWN, shut off (shutdown).
    @Test func tcgGuestShutdown() async throws {
        let guest = try TestGuest.load()
        let root = try TestPaths.makeTempDir("drvg")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        var events = driver.events().makeAsyncIterator()
        let serial = root + "/serial.sock"
        let xml = Self.minimalXML(
            name: "guest", type: "qemu", extra: "<features><acpi/></features>",
            os: "<kernel>\(guest.kernel)</kernel><initrd>\(guest.initrd)</initrd><cmdline>\(guest.cmdline)</cmdline>",
            devices: "<serial type='unix'><source mode='bind' path='\(serial)'/></serial>")
        let dom = try await driver.createXML(xml, flags: .startPaused)
        let qemuPid = try await driver.pid(of: dom) ?? 0
        defer { ProcFS.kill(qemuPid, ifExecutable: "qemu-system") }
        #expect(await Self.lifecycle(&events, 2) == [.started(.booted), .suspended(.paused)])
        #expect(try await driver.isPersistent(dom) == false)
        let fd = try LinuxSys.connectUnix(serial)
        defer { close(fd) }
        try await driver.resume(dom)
        #expect(await Self.lifecycle(&events, 1) == [.resumed(.unpaused)])
        let console = await QEMUTestSupport.readUntil(fd: fd, marker: "SWIFTVIRT-GUEST-READY")
        #expect(console.contains("SWIFTVIRT-GUEST-READY"))
        try await driver.shutdown(dom, flags: [])
        #expect(await Self.lifecycle(&events, 2) == [.shutdown(.guest), .stopped(.shutdown)])
        // A transient domain is gone once it stops.
        await #expect(throws: VirtError.self) { try await driver.lookupDomain(name: "guest") }
    }
}
