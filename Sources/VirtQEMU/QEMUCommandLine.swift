import VirtCore

/// Builds QEMU's command line from a domain definition, in libvirt 9.0's order and syntax.
///
/// Covered so far: name, -S, machine (canonical versioned type), accel kvm/tcg from the domain type, cpu
/// model, memory with its memory-backend object, smp topology, uuid, display, monitor on a passed socket,
/// rtc, -no-shutdown, -no-acpi, boot (order, menu, strict), direct kernel boot, serial ports (pty, file,
/// unix, tcp, null), audiodev, sandbox, msg. Everything else in the definition is not yet turned into
/// arguments.
public struct QEMUCommandLine: Sendable {
    /// The default emulator.
    public static let defaultEmulator = "/usr/bin/qemu-system-x86_64"

    public var definition: DomainDefinition
    public var capabilities: QEMUCapabilities?
    /// The descriptor the monitor socket has in QEMU (see ``QEMULauncher``).
    public var monitorFD: Int32 = QEMULauncher.monitorFD

    public init(definition: DomainDefinition, capabilities: QEMUCapabilities? = nil) {
        self.definition = definition
        self.capabilities = capabilities
    }

    /// The emulator binary.
    public var emulator: String { definition.devices.emulator ?? Self.defaultEmulator }

    /// libvirt's escaping of a value in QEMU's `key=value,…` syntax: commas are doubled.
    public static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: ",", with: ",,")
    }

    /// The machine type QEMU gets: aliases resolved through the capabilities (`q35` → `pc-q35-7.2`).
    public var machineType: String {
        let m = definition.os.machine ?? capabilities?.defaultMachine ?? "pc"
        return capabilities?.canonicalMachine(m) ?? m
    }

    /// The accelerator for the domain type.
    public var accelerator: String { definition.type == "kvm" ? "kvm" : "tcg" }

    /// The arguments (without the binary).
    public func arguments() throws(VirtError) -> [String] {
        let def = definition
        var a: [String] = []
        a += ["-name", "guest=\(Self.escape(def.name)),debug-threads=on"]
        a += ["-S"]
        a += ["-machine", "\(Self.escape(machineType)),usb=off,dump-guest-core=off,memory-backend=pc.ram"]
        a += ["-accel", accelerator]
        a += ["-cpu", try cpuModel()]
        let mib = def.memory / 1024
        a += ["-m", String(mib)]
        a += ["-object", #"{"qom-type":"memory-backend-ram","id":"pc.ram","size":\#(def.memory * 1024)}"#]
        a += ["-overcommit", "mem-lock=off"]
        a += ["-smp", smp()]
        a += ["-uuid", def.uuid.description]
        if def.devices.graphics.isEmpty { a += ["-display", "none"] }
        a += ["-no-user-config", "-nodefaults"]
        a += QEMULauncher.monitorArguments(fd: monitorFD)
        a += ["-rtc", rtc()]
        a += ["-no-shutdown"]
        if !def.features.acpi { a += ["-no-acpi"] }
        a += ["-boot", boot()]
        if let k = def.os.kernel { a += ["-kernel", k] }
        if let i = def.os.initrd { a += ["-initrd", i] }
        if let c = def.os.cmdline { a += ["-append", c] }
        for (i, s) in def.devices.serials.enumerated() {
            let id = "charserial\(i)"
            a += ["-chardev", try chardev(s.source, id: id)]
            let port = s.targetPort ?? Int32(i)
            a += ["-device", #"{"driver":"isa-serial","chardev":"\#(id)","id":"serial\#(port)","index":\#(port)}"#]
        }
        a += ["-audiodev", #"{"id":"audio1","driver":"none"}"#]
        a += ["-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
        a += ["-msg", "timestamp=on"]
        return a
    }

    func cpuModel() throws(VirtError) -> String {
        guard let cpu = definition.cpu else { return "qemu64" }
        switch cpu.mode {
        case .custom: return cpu.model ?? "qemu64"
        case .hostPassthrough: return "host"
        case .maximum: return "max"
        case .hostModel:
            throw VirtError.configUnsupported("CPU mode 'host-model' is not supported yet", domain: .qemu)
        }
    }

    func smp() -> String {
        let def = definition
        let current = def.currentVcpus ?? def.vcpus
        var s = "\(current)"
        if current != def.vcpus { s += ",maxcpus=\(def.vcpus)" }
        if let t = def.cpu?.topology {
            s += ",sockets=\(t.sockets),dies=\(t.dies),cores=\(t.cores),threads=\(t.threads)"
        } else {
            s += ",sockets=\(def.vcpus),cores=1,threads=1"
        }
        return s
    }

    func rtc() -> String {
        switch definition.clock.offset {
        case .localtime: "base=localtime"
        default: "base=utc"
        }
    }

    func boot() -> String {
        // libvirt 9.0 turns <boot dev=…/> into per-device bootindex properties, never -boot order=.
        var parts: [String] = []
        if let menu = definition.os.bootMenu?.enable {
            parts.append("menu=\(menu ? "on" : "off")")
            if let t = definition.os.bootMenu?.timeout { parts.append("splash-time=\(t)") }
        }
        parts.append("strict=on")
        return parts.joined(separator: ",")
    }

    func chardev(_ src: CharSource, id: String) throws(VirtError) -> String {
        switch src.type {
        case .pty: return "pty,id=\(id)"
        case .null: return "null,id=\(id)"
        case .file:
            guard let p = src.path else { throw VirtError.xmlDetail("missing source path for file chardev") }
            var s = "file,id=\(id),path=\(Self.escape(p))"
            if let ap = src.append { s += ",append=\(ap ? "on" : "off")" }
            return s
        case .unix:
            guard let p = src.path else { throw VirtError.xmlDetail("missing source path for unix chardev") }
            return "socket,id=\(id),path=\(Self.escape(p))" + (src.listen ? ",server=on,wait=off" : "")
        case .tcp:
            let host = src.host.map { "host=\(Self.escape($0))," } ?? ""
            let telnet = src.tcpProtocol == .telnet ? ",telnet=on" : ""
            return "socket,id=\(id),\(host)port=\(Self.escape(src.service ?? "0"))\(telnet)"
                + (src.listen ? ",server=on,wait=off" : "")
        default:
            throw VirtError.configUnsupported("chardev type '\(src.type.rawValue)' is not supported yet",
                                              domain: .qemu)
        }
    }
}
