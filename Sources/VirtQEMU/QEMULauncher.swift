import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Starts QEMU with its QMP monitor on a socket that we create and pass to it (fd 3), so the monitor can
/// be connected at once: no waiting for QEMU to create the socket, no connect retries.
public enum QEMULauncher {
    /// The descriptor number the monitor's listening socket has in QEMU.
    public static let monitorFD: Int32 = 3

    /// The arguments that attach QMP to the passed socket, as libvirt names them.
    public static func monitorArguments(fd: Int32 = monitorFD) -> [String] {
        ["-chardev", "socket,id=charmonitor,fd=\(fd),server=on,wait=off",
         "-mon", "chardev=charmonitor,id=monitor,mode=control"]
    }

    /// Launches `spec` (whose arguments must contain ``monitorArguments(fd:)``) with a listening socket at
    /// `monitorPath` as fd 3, then connects QMP. When QEMU fails before its monitor answers, the error quotes
    /// QEMU's output, as libvirt does, and the process is gone.
    public static func start(_ spec: ProcessLaunchSpec, monitorPath: String, vmName: String? = nil,
                             monitorTimeout: Duration = QMPMonitor.defaultTimeout)
        async throws(VirtError) -> (process: QEMUProcess, monitor: QMPMonitor) {
        let listenFD = try LinuxSys.listenUnix(monitorPath)
        var spec = spec
        spec.passFDs = [listenFD] + spec.passFDs
        let process: QEMUProcess
        do {
            process = try QEMUProcess.launch(spec)
        } catch {
            close(listenFD)
            throw error
        }
        close(listenFD)
        do {
            let fd = try LinuxSys.connectUnix(monitorPath)
            let monitor = try await QMPMonitor.open(fd: fd, timeout: monitorTimeout, outOfBand: true)
            return (process, monitor)
        } catch {
            await process.terminate(grace: .seconds(1))
            let output = process.logOutput()
            let who = vmName.map { " (vm='\($0)')" } ?? ""
            process.note("QEMU\(who) ended before its monitor answered")
            if !output.isEmpty {
                // libvirt 9.0's words.
                throw VirtError.internalError("qemu unexpectedly closed the monitor: \(output)", domain: .qemu)
            }
            throw error
        }
    }

    /// Connects to the monitor of a QEMU that is already running (reconnect after a daemon restart).
    public static func reconnect(monitorPath: String, timeout: Duration = QMPMonitor.defaultTimeout)
        async throws(VirtError) -> QMPMonitor {
        try await QMPMonitor.connect(path: monitorPath, timeout: timeout, outOfBand: true)
    }
}
