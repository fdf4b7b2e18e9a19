import Foundation
import VirtCore

/// `<watchdog action='dump'/>` (libvirt 9.0's qemuProcessHandleWatchdog and processWatchdogEvent): QEMU runs
/// with `-watchdog-action pause`, so when the watchdog fires the WATCHDOG event says "pause" and the domain
/// is paused for the watchdog (SUSPENDED/WATCHDOG). Then, as an async DUMP job, the guest's memory is dumped
/// (memory only, ELF, as the raw format of a crash dump) into the auto-dump directory, file `ID-NAME-DATE-TIME` (qemu.conf's
/// `auto_dump_path`, virtd.conf's key of that name) and the guest runs again (RESUMED/UNPAUSED, running
/// (unpaused)). A failed dump is only logged, and the guest is resumed all the same, as libvirt does.
extension QEMUDomainObject {
    func setAutoDumpPath(_ path: String?) { autoDumpPath = path }

    /// qemu.conf's `auto_dump_path`, or the driver's default (`root/lib/qemu/dump`).
    var autoDumpDir: String { autoDumpPath ?? paths.autoDumpDir }

    /// The file a watchdog or crash dump of the running domain goes to: `DIR/ID-NAME-YYYY-MM-DD-HH:MM:SS`
    /// (libvirt's getAutoDumpPath: the domain's short name, the local time).
    func autoDumpFile(at date: Date = Date()) -> String {
        autoDumpDir + "/" + Self.autoDumpFileName(shortName: QEMUDriverPaths.shortName(id: id, name: name), date: date)
    }

    static func autoDumpFileName(shortName name: String, date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone.current
        f.dateFormat = "yyyy-MM-dd-HH:mm:ss"
        return name + "-" + f.string(from: date)
    }

    /// Whether the watchdog that fired asks for a dump.
    var watchdogWantsDump: Bool {
        (liveDefinition ?? definition).devices.watchdogs.contains { $0.action == .dump }
    }

    /// libvirt's processWatchdogEvent for `action='dump'`: an async DUMP job that dumps the guest's memory
    /// into the auto-dump directory, then resumes the guest.
    func watchdogDump() async {
        do {
            try await beginAsyncJob(.dump, operation: .dump, owner: "watchdogDump")
        } catch {
            process?.note("watchdog dump: \(error)")
            return
        }
        guard isActive, let mon = monitor else {
            endAsyncJob()
            return
        }
        jobs.current?.isMemoryDump = true
        let path = autoDumpFile()
        do throws(VirtError) {
            try LinuxSys.mkdirs(autoDumpDir)
            try await writeCoreDump(mon, to: path, format: 0, memoryOnly: true)
            process?.note("watchdog dump written to \(path)")
        } catch {
            process?.note("Dump failed: \(error)")
        }
        await catchUpWithEvents()
        if isActive, status.state == .paused, let m = monitor {
            if (try? await m.execute("cont")) != nil {
                setRunning(.unpaused)
            } else {
                process?.note("Resuming after dump failed")
            }
        }
        endAsyncJob()
    }
}
