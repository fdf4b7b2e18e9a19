import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// on_poweroff / on_reboot / on_crash as libvirt 9.0 carries them out (sequences observed with libvirt's
/// embedded driver and the same test guest: on_poweroff restart → REBOOT only; reboot API with on_reboot
/// destroy → SHUTDOWN/GUEST, STOPPED/SHUTDOWN; panic → CRASHED/PANICKED, then destroy → STOPPED/CRASHED,
/// restart → REBOOT, RESUMED/UNPAUSED (running, crashed), preserve → crashed/panicked), a `<panic>`
/// device, and the lock on an embed root.
@Suite(.tags(.qemu)) struct QEMULifecycleActionsTests {
    static func xml(_ name: String, _ lifecycle: String) -> String {
        QEMUDriverTests.minimalXML(name: name, extra: lifecycle)
    }

    /// What libvirt refuses at define time, with its words; what it accepts.
    @Test func defineChecksLikeLibvirt() async throws {
        let root = try TestPaths.makeTempDir("lca")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        let refused: [(String, String)] = [
            ("<on_poweroff>preserve</on_poweroff>",
             "unsupported configuration: qemu driver doesn't support the 'preserve' action for 'on_reboot'/'on_poweroff'"),
            ("<on_reboot>preserve</on_reboot>",
             "unsupported configuration: qemu driver doesn't support the 'preserve' action for 'on_reboot'/'on_poweroff'"),
            ("<on_poweroff>rename-restart</on_poweroff>",
             "unsupported configuration: qemu driver doesn't support the 'rename-restart' action for 'on_reboot'/'on_poweroff'/'on_crash'"),
            ("<on_crash>rename-restart</on_crash>",
             "unsupported configuration: qemu driver doesn't support the 'rename-restart' action for 'on_reboot'/'on_poweroff'/'on_crash'"),
            ("<on_poweroff>restart</on_poweroff><on_reboot>destroy</on_reboot>",
             "unsupported configuration: qemu driver doesn't support 'onReboot' set to 'destroy and 'onPoweroff' set to 'reboot'"),
            ("<on_poweroff>coredump-destroy</on_poweroff>",
             "unsupported configuration: Lifecycle event 'poweroff' doesn't support 'coredump-destroy' action"),
            ("<on_reboot>coredump-restart</on_reboot>",
             "unsupported configuration: Lifecycle event 'reboot' doesn't support 'coredump-restart' action"),
        ]
        for (life, message) in refused {
            do {
                _ = try await driver.defineXML(Self.xml("r", life), flags: [])
                Issue.record("accepted \(life)")
            } catch let e as VirtError {
                #expect(e.code == .configUnsupported, "\(life)")
                #expect(e.message == message, "\(life)")
            }
        }
        for life in ["<on_poweroff>restart</on_poweroff>", "<on_reboot>destroy</on_reboot>",
                     "<on_crash>preserve</on_crash>", "<on_crash>restart</on_crash>",
                     "<on_crash>coredump-destroy</on_crash>", "<on_crash>coredump-restart</on_crash>"] {
            let d = try await driver.defineXML(Self.xml("ok", life), flags: [])
            try await driver.undefine(d, flags: [])
        }
        // A model-less <panic> is ISA on x86 (libvirt's post-parse), in the persistent definition already.
        let p = try await driver.defineXML(QEMUDriverTests.minimalXML(name: "pan", devices: "<panic/>"), flags: [])
        #expect(try await driver.xmlDesc(p, flags: .inactive).contains("<panic model='isa'/>"))
    }

    /// `<panic model='isa'/>` (and a model-less `<panic/>`) is QEMU's pvpanic, after `-sandbox` as libvirt
    /// places it; on_reboot destroy needs no argument (set-action after start); -no-shutdown always.
    @Test func panicDeviceArguments() throws {
        for panic in ["<panic model='isa'/>", "<panic/>"] {
            let def = try DomainDefinition.parse(QEMUDriverTests.minimalXML(
                name: "p", extra: "<on_reboot>destroy</on_reboot><on_crash>restart</on_crash>", devices: panic))
            let args = try QEMUCommandLine(definition: def).arguments()
            let sandbox = try #require(args.firstIndex(of: "-sandbox"))
            #expect(Array(args[(sandbox + 2)...].prefix(2)) == ["-device", #"{"driver":"pvpanic"}"#])
            #expect(args.contains("-no-shutdown"))
            #expect(!args.contains("-no-reboot"))
        }
        let def = try DomainDefinition.parse(QEMUDriverTests.minimalXML(
            name: "p", devices: "<panic model='isa'><address type='isa' iobase='0x506'/></panic>"))
        #expect(try QEMUCommandLine(definition: def).arguments().contains(#"{"driver":"pvpanic","ioport":1286}"#))
        let hv = try DomainDefinition.parse(QEMUDriverTests.minimalXML(name: "p", devices: "<panic model='hyperv'/>"))
        #expect(throws: VirtError.self) { try QEMUCommandLine(definition: hv).arguments() }
    }

    static func bootGuest(_ driver: QEMUDriver, name: String, extra: String = "", devices: String = "")
        async throws -> (DomainRef, any ByteStream, pid_t) {
        try await QEMUGuestAgentTests.bootGuest(driver, name: name, extra: extra, devices: devices)
    }

    static func next(_ it: inout AsyncStream<DomainEventRecord>.Iterator, _ n: Int) async -> [DomainEventRecord.Kind] {
        var out: [DomainEventRecord.Kind] = []
        while out.count < n, let e = await it.next() { out.append(e.kind) }
        return out
    }

    /// on_poweroff restart: the guest's own poweroff is transient (no SHUTDOWN event, state unchanged):
    /// a REBOOT and the guest runs again (libvirt 9.0 observed: REBOOT only, running/booted).
    @Test func onPoweroffRestart() async throws {
        let root = try TestPaths.makeTempDir("lcp")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        let (dom, console, pid) = try await Self.bootGuest(driver, name: "pr", extra: "<on_poweroff>restart</on_poweroff>")
        defer { ProcFS.kill(pid, ifExecutable: "qemu-system") }
        var events = driver.events().makeAsyncIterator()
        try await console.write(Array("poweroff -f\n".utf8))
        #expect(await Self.next(&events, 1) == [.reboot])
        let again = try await QEMUConsoleTests.readUntil(console, "SWIFTVIRT-GUEST-READY")
        #expect(again.contains("SWIFTVIRT-GUEST-READY"))
        #expect(try await driver.state(dom) == .running(.unpaused))
        #expect(try await driver.pid(of: dom) == pid)
        try? await console.finish()
        try await driver.destroy(dom, flags: [])
    }

    /// The reboot API with on_reboot destroy shuts the guest down instead (libvirt 9.0 observed:
    /// SHUTDOWN/GUEST, STOPPED/SHUTDOWN).
    @Test func rebootAPIWithOnRebootDestroy() async throws {
        let root = try TestPaths.makeTempDir("lcr")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        let (dom, console, pid) = try await Self.bootGuest(driver, name: "rd", extra: "<on_reboot>destroy</on_reboot>")
        defer { ProcFS.kill(pid, ifExecutable: "qemu-system") }
        var events = driver.events().makeAsyncIterator()
        try await driver.reboot(dom, flags: [])
        #expect(await Self.next(&events, 2) == [.lifecycle(.shutdown(.guest)), .lifecycle(.stopped(.shutdown))])
        #expect(try await driver.state(dom) == .shutoff(.shutdown))
        try? await console.finish()
    }

    /// Boots a guest with a pvpanic device and `on_crash`, makes its kernel panic, and returns once the
    /// CRASHED/PANICKED event has come (the first event, as libvirt 9.0 reports it in the usual order of its
    /// race between QEMU's STOP and the panic: observed CRASHED first with destroy, restart and
    /// coredump-destroy).
    static func panicGuest(_ driver: QEMUDriver, name: String, onCrash: String) async throws
        -> (DomainRef, any ByteStream, pid_t, AsyncStream<DomainEventRecord>.Iterator) {
        let (dom, console, pid) = try await bootGuest(driver, name: name, extra: "<on_crash>\(onCrash)</on_crash>",
                                                      devices: "<panic model='isa'/>")
        var events = driver.events().makeAsyncIterator()
        try await console.write(Array("echo c >/proc/sysrq-trigger\n".utf8))
        #expect(await next(&events, 1) == [.lifecycle(.crashed(.panicked))])
        return (dom, console, pid, events)
    }

    @Test func panicDestroy() async throws {
        let root = try TestPaths.makeTempDir("lcd")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        var (dom, console, pid, events) = try await Self.panicGuest(driver, name: "pd", onCrash: "destroy")
        defer { ProcFS.kill(pid, ifExecutable: "qemu-system") }
        #expect(await Self.next(&events, 1) == [.lifecycle(.stopped(.crashed))])
        #expect(try await driver.state(dom) == .shutoff(.crashed))
        try? await console.finish()
    }

    @Test func panicPreserve() async throws {
        let root = try TestPaths.makeTempDir("lcv")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        var (dom, console, pid, events) = try await Self.panicGuest(driver, name: "pp", onCrash: "preserve")
        defer { ProcFS.kill(pid, ifExecutable: "qemu-system") }
        #expect(try await driver.state(dom) == .crashed(.panicked))
        #expect(QEMUProcess.isAlive(pid))
        let qmp = try await driver.qemuMonitorCommand(dom, command: #"{"execute":"query-status"}"#, flags: 0)
        #expect(qmp.contains(#""status":"guest-panicked""#))
        try? await console.finish()
        // Destroy as always: QEMU's SIGTERM shutdown (SHUTDOWN/HOST), then STOPPED/DESTROYED.
        try await driver.destroy(dom, flags: [])
        #expect(await Self.next(&events, 2) == [.lifecycle(.shutdown(.host)), .lifecycle(.stopped(.destroyed))])
    }

    /// restart: a fake reboot, REBOOT then RESUMED/UNPAUSED, running with reason crashed; the guest boots.
    @Test func panicRestart() async throws {
        let root = try TestPaths.makeTempDir("lcs")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        var (dom, console, pid, events) = try await Self.panicGuest(driver, name: "ps", onCrash: "restart")
        defer { ProcFS.kill(pid, ifExecutable: "qemu-system") }
        #expect(await Self.next(&events, 2) == [.reboot, .lifecycle(.resumed(.unpaused))])
        #expect(try await driver.state(dom) == .running(.crashed))
        let again = try await QEMUConsoleTests.readUntil(console, "SWIFTVIRT-GUEST-READY")
        #expect(again.contains("SWIFTVIRT-GUEST-READY"))
        try? await console.finish()
        try await driver.destroy(dom, flags: [])
    }

    /// coredump-destroy: a memory dump in the auto-dump directory, then as destroy.
    @Test func panicCoredumpDestroy() async throws {
        let root = try TestPaths.makeTempDir("lcc")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        var (dom, console, pid, events) = try await Self.panicGuest(driver, name: "pc", onCrash: "coredump-destroy")
        defer { ProcFS.kill(pid, ifExecutable: "qemu-system") }
        #expect(await Self.next(&events, 1) == [.lifecycle(.stopped(.crashed))])
        #expect(try await driver.state(dom) == .shutoff(.crashed))
        let dumps = (try? FileManager.default.contentsOfDirectory(atPath: root + "/lib/qemu/dump")) ?? []
        // libvirt's getAutoDumpPath: the short name ID-NAME, then the local date and time.
        #expect(dumps.count == 1 && dumps.allSatisfy {
            $0.range(of: #"^[0-9]+-pc-[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}:[0-9]{2}:[0-9]{2}$"#, options: .regularExpression) != nil
        }, "\(dumps)")
        if let f = dumps.first {
            let size = (try? FileManager.default.attributesOfItem(atPath: root + "/lib/qemu/dump/" + f)[.size] as? Int) ?? 0
            #expect(size > 128 * 1024 * 1024)
            let head = FileHandle(forReadingAtPath: root + "/lib/qemu/dump/" + f)?.readData(ofLength: 4)
            #expect(head == Data([0x7F, 0x45, 0x4C, 0x46]))  // ELF
        }
        try? await console.finish()
    }

    /// coredump-restart: the dump, then as restart (REBOOT, RESUMED/UNPAUSED, running (crashed)).
    @Test func panicCoredumpRestart() async throws {
        let root = try TestPaths.makeTempDir("lcq")
        defer { TestPaths.removeDir(root) }
        let driver = try await QEMUDriver.open(root: root)
        var (dom, console, pid, events) = try await Self.panicGuest(driver, name: "pq", onCrash: "coredump-restart")
        defer { ProcFS.kill(pid, ifExecutable: "qemu-system") }
        #expect(await Self.next(&events, 2) == [.reboot, .lifecycle(.resumed(.unpaused))])
        #expect(try await driver.state(dom) == .running(.crashed))
        let dumps = (try? FileManager.default.contentsOfDirectory(atPath: root + "/lib/qemu/dump")) ?? []
        #expect(dumps.count == 1 && dumps.allSatisfy {
            $0.range(of: #"^[0-9]+-pq-[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}:[0-9]{2}:[0-9]{2}$"#, options: .regularExpression) != nil
        }, "\(dumps)")
        try? await console.finish()
        try await driver.destroy(dom, flags: [])
    }

    /// A preserved crash survives a takeover: a new driver state (as virtd after a restart) reads the domain
    /// back as crashed (panicked).
    @Test func preservedCrashAfterReconnect() async throws {
        let root = try TestPaths.makeTempDir("lcw")
        defer { TestPaths.removeDir(root) }
        let first = try await QEMUDriver.openUnshared(root: root)
        let (dom, console, pid, _) = try await Self.panicGuest(first, name: "pw", onCrash: "preserve")
        defer { ProcFS.kill(pid, ifExecutable: "qemu-system") }
        try? await console.finish()
        await first.detachAll()
        let second = try await QEMUDriver.openUnshared(root: root)
        #expect(try await second.state(dom) == .crashed(.panicked))
        try await second.destroy(dom, flags: [])
        #expect(try await second.state(dom) == .shutoff(.destroyed))
    }

    /// Two processes on one embed root: the second is refused with libvirt's error (its pid file lock).
    @Test func embedRootIsLockedAgainstAnotherProcess() async throws {
        let root = try TestPaths.makeTempDir("lck")
        defer { TestPaths.removeDir(root) }
        _ = try await QEMUDriver.open(root: root)
        #expect(LinuxSys.readFile(root + "/run/qemu/driver.pid") == "\(getpid())")
        let vsh = TestPaths.vsh
        #expect(FileManager.default.isExecutableFile(atPath: vsh), "vsh not built at \(vsh)")
        let r = try ChildProcess.run([vsh, "-c", "qemu:///embed?root=\(root)", "list", "--all"], timeLimit: 120)
        let text = r.stderr
        #expect(r.status != 0)
        #expect(text.contains("Failed to acquire pid file '\(root)/run/qemu/driver.pid': Resource temporarily unavailable"))
    }
}
