import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// `<serial type='pty'>`: the pty shows in the live XML with its alias, and a console stream on it talks to
/// the test guest's shell (TCG).
@Suite(.tags(.qemu)) struct QEMUConsoleTests {
    static func readUntil(_ s: any ByteStream, _ marker: String) async throws -> String {
        var got = [UInt8]()
        while let chunk = try await s.read() {
            got += chunk
            if String(decoding: got, as: UTF8.self).contains(marker) { break }
        }
        return String(decoding: got, as: UTF8.self)
    }

    @Test func ptyConsoleTalksToGuest() async throws {
        let guest = try TestGuest.load()
        let root = try TestPaths.makeTempDir("con")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        let xml = QEMUDriverTests.minimalXML(
            name: "con", type: "qemu", extra: "<features><acpi/></features>",
            os: "<kernel>\(guest.kernel)</kernel><initrd>\(guest.initrd)</initrd><cmdline>\(guest.cmdline)</cmdline>",
            devices: "<serial type='pty'/>")
        let dom = try await driver.defineXML(xml, flags: [])
        await #expect(throws: VirtError.operationInvalid("domain is not running", domain: .domain)) {
            try await driver.openConsole(dom, device: nil, flags: 0)
        }
        _ = try await driver.start(dom, flags: .startPaused)
        let qemuPid = try await driver.pid(of: dom) ?? 0
        defer { ProcFS.kill(qemuPid, ifExecutable: "qemu-system") }
        let live = try await driver.xmlDesc(dom, flags: [])
        #expect(live.contains("<source path='/dev/pts/"))
        #expect(live.contains("<alias name='serial0'/>"))
        #expect(!(try await driver.xmlDesc(dom, flags: .inactive)).contains("/dev/pts/"))

        let console = try await driver.openConsole(dom, device: "serial0", flags: 0)
        try await driver.resume(dom)
        let boot = try await Self.readUntil(console, "SWIFTVIRT-GUEST-READY")
        #expect(boot.contains("SWIFTVIRT-GUEST-READY"))
        try await console.write(Array("echo SV-$((40+2))\n".utf8))
        let reply = try await Self.readUntil(console, "SV-42")
        #expect(reply.contains("SV-42"))
        try await console.finish()
        try await driver.destroy(dom, flags: [])
        await #expect(throws: VirtError.self) { try await driver.openConsole(dom, device: "serial0", flags: 0) }
    }
}

/// Lifecycle actions with the guest's cooperation (TCG): the reboot API (fake reboot: SHUTDOWN, reset, run
/// again), a guest reboot with on_reboot restart (a REBOOT event) and with on_reboot destroy (shut off).
@Suite(.tags(.qemu)) struct QEMULifecycleActionTests {
    static func bootGuest(_ driver: QEMUDriver, name: String, extra: String) async throws
        -> (DomainRef, any ByteStream) {
        let guest = try TestGuest.load()
        let xml = QEMUDriverTests.minimalXML(
            name: name, type: "qemu", extra: "<features><acpi/></features>" + extra,
            os: "<kernel>\(guest.kernel)</kernel><initrd>\(guest.initrd)</initrd><cmdline>\(guest.cmdline)</cmdline>",
            devices: "<serial type='pty'/>")
        let dom = try await driver.createXML(xml, flags: .startPaused)
        let pid = try await driver.pid(of: dom) ?? 0
        do {
            let console = try await driver.openConsole(dom, device: nil, flags: 0)
            try await driver.resume(dom)
            let boot = try await QEMUConsoleTests.readUntil(console, "SWIFTVIRT-GUEST-READY")
            #expect(boot.contains("SWIFTVIRT-GUEST-READY"))
            return (dom, console)
        } catch {
            if pid > 0 { kill(pid, SIGKILL) }
            throw error
        }
    }

    static func next(_ it: inout AsyncStream<DomainEventRecord>.Iterator, _ n: Int) async -> [DomainEventRecord.Kind] {
        var out: [DomainEventRecord.Kind] = []
        while out.count < n, let e = await it.next() { out.append(e.kind) }
        return out
    }

    @Test func rebootAPIAndGuestReboot() async throws {
        let root = try TestPaths.makeTempDir("act")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        let (dom, console) = try await Self.bootGuest(driver, name: "rb", extra: "")
        let qemuPid = try await driver.pid(of: dom) ?? 0
        defer { ProcFS.kill(qemuPid, ifExecutable: "qemu-system") }
        var events = driver.events().makeAsyncIterator()
        try await driver.reboot(dom, flags: [])
        // As libvirtd 9.0: the fake reboot (guest powered off, reset and continued) raises no lifecycle event
        // and leaves the state as it was; each RESET of QEMU is a REBOOT event.
        #expect(await Self.next(&events, 1) == [.reboot])
        #expect(try await driver.state(dom) == .running(.unpaused))
        let again = try await QEMUConsoleTests.readUntil(console, "SWIFTVIRT-GUEST-READY")
        #expect(again.contains("SWIFTVIRT-GUEST-READY"))
        // The guest reboots itself; on_reboot is restart: REBOOT events (the kernel may try more than one
        // reset method, so one or more), still running, and the guest comes up again.
        try await console.write(Array("reboot -f\n".utf8))
        #expect(await Self.next(&events, 1) == [.reboot])
        let third = try await QEMUConsoleTests.readUntil(console, "SWIFTVIRT-GUEST-READY")
        #expect(third.contains("SWIFTVIRT-GUEST-READY"))
        #expect(try await driver.state(dom) == .running(.unpaused))
        try await console.finish()
        try await driver.destroy(dom, flags: [])
        var last: [DomainEventRecord.Kind] = []
        while let e = await events.next() {
            if e.kind == .reboot { continue }
            last.append(e.kind)
            if last.count == 2 { break }
        }
        #expect(last == [.lifecycle(.shutdown(.host)), .lifecycle(.stopped(.destroyed))])
    }

    @Test func guestRebootWithOnRebootDestroy() async throws {
        let root = try TestPaths.makeTempDir("act")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        let (dom, console) = try await Self.bootGuest(driver, name: "rd", extra: "<on_reboot>destroy</on_reboot>")
        let qemuPid = try await driver.pid(of: dom) ?? 0
        defer { ProcFS.kill(qemuPid, ifExecutable: "qemu-system") }
        var events = driver.events().makeAsyncIterator()
        try await console.write(Array("reboot -f\n".utf8))
        #expect(await Self.next(&events, 2) == [.lifecycle(.shutdown(.guest)), .lifecycle(.stopped(.shutdown))])
        // Finishing a console whose pty went away with QEMU is harmless.
        try await console.finish()
    }
}
