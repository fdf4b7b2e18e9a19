import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The capabilities documents of a QEMU driver instance (`virConnectGetCapabilities`,
/// `virConnectGetDomainCapabilities`).
extension QEMUDriverState {
    /// The host UUID when the host has no SMBIOS one: random, fixed for the life of the process (as libvirtd's).
    static let processHostUUID = VirtUUID.random()

    /// swtpm_setup's feature list, read once per process (empty when swtpm is not installed).
    static let swtpmFeatures: [String] = {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init)
        guard let exe = dirs.map({ $0 + "/swtpm_setup" }).first(where: { access($0, X_OK) == 0 }) else { return [] }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["--print-capabilities"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return [] }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard let j = try? JSONValue.parse(String(decoding: data, as: UTF8.self)) else { return [] }
        return (j["features"]?.arrayValue ?? []).compactMap(\.stringValue)
    }()

    static var kvmUsable: Bool { access("/dev/kvm", R_OK | W_OK) == 0 }

    /// QEMU's uid and gid: the DAC driver's, or this process's when QEMU runs unconfined.
    var qemuLabel: (uid: UInt32, gid: UInt32) {
        if let dac = security as? DACSecurityManager { return (dac.uid, dac.gid) }
        return (getuid(), getgid())
    }

    /// The capabilities XML: the host, then a guest for every QEMU system emulator found in PATH.
    func capabilitiesXML() async throws -> String {
        let host = HostCapabilities.read()
        var guests: [QEMUCapabilitiesXML.Guest] = []
        var hostProbe: QEMUCapabilities?
        for arch in QEMUGuestArch.all {
            guard let bin = arch.findEmulator(), let caps = try? await capabilities.capabilities(for: bin) else { continue }
            guests.append(.init(arch: arch, caps: caps))
            if arch.name == host.arch { hostProbe = caps }
        }
        return QEMUCapabilitiesXML.format(host: host, uuid: host.smbiosUUID ?? Self.processHostUUID, guests: guests,
                                          hostProbe: hostProbe, label: qemuLabel, kvmUsable: Self.kvmUsable)
    }

    /// The domain capabilities XML for the given emulator, arch, machine and virt type (each optional).
    func domainCapabilitiesXML(emulator: String?, arch: String?, machine: String?, virtType: String?,
                               flags: UInt32) async throws -> String {
        guard flags == 0 else {
            throw VirtError.unsupportedFlags(UInt64(flags), function: "qemuConnectGetDomainCapabilities", domain: .qemu)
        }
        let host = HostCapabilities.read()
        let cache = capabilities
        let (caps, a, m, type) = try await QEMUDomainCapabilities.resolve(
            emulator: emulator, arch: arch, machine: machine, virtType: virtType, hostArch: host.arch,
            kvmUsable: Self.kvmUsable, probe: { bin in try await cache.capabilities(for: bin) })
        return QEMUDomainCapabilities(caps: caps, arch: a, machine: m, virtType: type, firmware: QEMUFirmware.load(dirs: firmwareDirs),
                                      swtpmFeatures: Self.swtpmFeatures).format()
    }
}
