import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// The test guest boots for real (under TCG: the Debian kernel hangs under this machine's KVM), prints its
/// marker on the serial console and powers off on an ACPI power-button press.
@Suite(.tags(.qemu)) struct TestGuestTests {
    @Test func bootsAndPowersOffOnACPIPowerdown() async throws {
        let guest = try TestGuest.load()
        let dir = try TestPaths.makeTempDir("guest")
        defer { TestPaths.removeDir(dir) }
        let serialPath = dir + "/serial.sock"
        let spec = ProcessLaunchSpec(
            binary: TestHost.qemuBinary,
            arguments: ["-machine", "q35", "-accel", "tcg", "-m", "256", "-S", "-nodefaults", "-no-user-config",
                        "-display", "none", "-kernel", guest.kernel, "-initrd", guest.initrd,
                        "-append", guest.cmdline,
                        "-chardev", "socket,id=charserial0,path=\(serialPath),server=on,wait=off",
                        "-serial", "chardev:charserial0"] + QEMULauncher.monitorArguments(),
            logPath: dir + "/qemu.log")
        let (process, monitor) = try await QEMULauncher.start(spec, monitorPath: dir + "/monitor.sock")
        defer { if process.exitWaiter.result == nil { kill(process.pid, SIGKILL) } }
        let serial = try LinuxSys.connectUnix(serialPath)
        defer { close(serial) }
        try await monitor.execute("cont")
        let console = await QEMUTestSupport.readUntil(fd: serial, marker: "SWIFTVIRT-GUEST-READY")
        #expect(console.contains("SWIFTVIRT-GUEST-READY"), "console: \(console)")

        let events = Task { await QEMUTestSupport.collectEvents(monitor.events, until: "SHUTDOWN") }
        try await monitor.execute("system_powerdown")
        let seen = await events.value
        let shutdown = seen.last
        #expect(seen.map(\.name).contains("POWERDOWN"))
        #expect(shutdown?.name == "SHUTDOWN")
        #expect(shutdown?.data["guest"]?.boolValue == true)
        #expect(shutdown?.data["reason"]?.stringValue == "guest-shutdown")
        #expect(await process.exitWaiter.wait() == .exited(0))
        let rest = await QEMUTestSupport.readUntil(fd: serial, marker: "\u{0}", deadlineSeconds: 10)
        #expect(rest.contains("SWIFTVIRT-GUEST-POWEROFF"))
    }
}
