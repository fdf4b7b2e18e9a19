import Foundation
import VirtCore

/// `virConnectDomainXMLToNative` (libvirt's qemuConnectDomainXMLToNative): the command line the driver would run
/// for a definition, as libvirt prints it (environment, emulator, arguments, shell-quoted). libvirt 9.0's QEMU
/// driver has no virConnectDomainXMLFromNative (the protocol default answers NO_SUPPORT).
extension QEMUDriver {
    public func domainXMLToNative(format: String, xml: String, flags: UInt32) async throws -> String {
        try Self.checkFlags(flags, allowed: 0, "qemuConnectDomainXMLToNative")
        guard format == "qemu-argv" else {
            throw VirtError.invalidArg("unsupported config type \(format)", domain: .qemu)
        }
        let def = try DomainDefinition.parse(xml, options: DomainParseOptions(abiUpdate: true, qemuVcpuRules: true))
        let emulator = def.devices.emulator ?? QEMUCommandLine.defaultEmulator
        let caps = try await state.capabilities.capabilities(for: emulator)
        let paths = state.paths
        let privateDir = paths.domainLibDir(id: -1, name: def.name)
        var cl = QEMUCommandLine(definition: def, capabilities: caps)
        cl.nativeConversion = true
        cl.tlsX509Dir = paths.root + "/etc/pki/qemu"
        cl.channelTargetDir = paths.channelTargetDir(id: -1, name: def.name)
        cl.privateDir = privateDir
        cl.memoryBackingDir = paths.memoryBackingDir(id: -1, name: def.name)
        // The monitor as libvirt names it for a process it would start (a socket path, not a passed descriptor).
        let args = try cl.arguments().map { a in
            a.hasPrefix("socket,id=charmonitor,fd=")
                ? "socket,id=charmonitor,path=\(privateDir)/monitor.sock,server=on,wait=off" : a
        }
        let env = Self.nativeEnvironment(home: privateDir).map { pair -> String in
            guard let eq = pair.firstIndex(of: "=") else { return Self.shellQuoted(pair) }
            return String(pair[...eq]) + Self.shellQuoted(String(pair[pair.index(after: eq)...]))
        }
        return (env + ([emulator] + args).map(Self.shellQuoted)).joined(separator: " ")
    }

    /// libvirt's virCommandAddEnvPassCommon and the QEMU driver's HOME and XDG directories: `LC_ALL=C`, the
    /// daemon's own LD_PRELOAD, LD_LIBRARY_PATH, PATH (default `/bin:/usr/bin`), HOME, USER, LOGNAME and TMPDIR
    /// when set, then HOME replaced by the private directory and the three XDG directories under it.
    static func nativeEnvironment(home: String) -> [String] {
        let env = ProcessInfo.processInfo.environment
        var pairs: [(String, String)] = [("LC_ALL", "C")]
        for name in ["LD_PRELOAD", "LD_LIBRARY_PATH", "PATH", "HOME", "USER", "LOGNAME", "TMPDIR"] {
            if let v = env[name] {
                pairs.append((name, v))
            } else if name == "PATH" {
                pairs.append((name, "/bin:/usr/bin"))
            }
        }
        func set(_ name: String, _ value: String) {
            if let i = pairs.firstIndex(where: { $0.0 == name }) { pairs[i].1 = value } else { pairs.append((name, value)) }
        }
        set("HOME", home)
        set("XDG_DATA_HOME", home + "/.local/share")
        set("XDG_CACHE_HOME", home + "/.cache")
        set("XDG_CONFIG_HOME", home + "/.config")
        return pairs.map { "\($0.0)=\($0.1)" }
    }

    /// libvirt's virBufferEscapeShell: as is without shell metacharacters, else in single quotes (`'` as `'\''`).
    static func shellQuoted(_ s: String) -> String {
        let meta = Set("\r\t\n !\"#$&'()*;<>?[\\]^`{|}~")
        if !s.isEmpty && !s.contains(where: { meta.contains($0) }) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
