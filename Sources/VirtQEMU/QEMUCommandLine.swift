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
        try checkSupportedDevices()
        var a: [String] = []
        a += ["-name", "guest=\(Self.escape(def.name)),debug-threads=on"]
        a += ["-S"]
        a += ["-machine", "\(Self.escape(machineType)),usb=off,dump-guest-core=off,memory-backend=pc.ram"]
        a += ["-accel", accelerator]
        a += ["-cpu", try cpuModel()]
        // libvirt aligns x86 guest memory up to whole MiB.
        let mib = (def.memory + 1023) / 1024
        a += ["-m", String(mib)]
        a += ["-object", #"{"qom-type":"memory-backend-ram","id":"pc.ram","size":\#(mib * 1024 * 1024)}"#]
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
        let pci = defaultPCIDevices()
        a += pci.beforeSerials
        a += try disks()
        for (i, s) in def.devices.serials.enumerated() {
            let id = "charserial\(i)"
            a += ["-chardev", try chardev(s.source, id: id)]
            let port = s.targetPort ?? Int32(i)
            a += ["-device", #"{"driver":"isa-serial","chardev":"\#(id)","id":"serial\#(port)","index":\#(port)}"#]
        }
        a += ["-audiodev", #"{"id":"audio1","driver":"none"}"#]
        a += pci.afterAudio
        a += ["-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
        a += ["-msg", "timestamp=on"]
        return a
    }

    /// The PCI devices libvirt adds by default: the USB controller and the memory balloon, and on q35 the
    /// PCIe root ports they sit on (one per device plus a spare). Addresses are assigned as libvirt does
    /// while these are the only PCI devices (the builder emits no other PCI device yet).
    func defaultPCIDevices() -> (beforeSerials: [String], afterAudio: [String]) {
        let def = definition
        let isQ35 = machineType.contains("q35")
        let usb = def.devices.controllers.first { $0.type == .usb && $0.index == 0 }
        let usbDriver: String?
        switch usb?.model {
        case .none?: usbDriver = nil
        case nil: usbDriver = isQ35 ? "qemu-xhci" : "piix3-usb-uhci"
        case .qemuXHCI?: usbDriver = "qemu-xhci"
        case .piix3UHCI?: usbDriver = "piix3-usb-uhci"
        default: usbDriver = nil  // other models: not built yet
        }
        let balloon = def.devices.memballoon.map { $0.model == .virtio } ?? true
        var before: [String] = []
        var after: [String] = []
        if isQ35 {
            let count = (usbDriver == nil ? 0 : 1) + (balloon ? 1 : 0)
            if count > 0 {
                for k in 1...(count + 1) {
                    let addr = k == 1 ? #""multifunction":true,"addr":"0x1""# : #""addr":"0x1.0x\#(k - 1)""#
                    before += ["-device", #"{"driver":"pcie-root-port","port":\#(7 + k),"chassis":\#(k),"id":"pci.\#(k)","bus":"pcie.0",\#(addr)}"#]
                }
            }
            var port = 1
            if let u = usbDriver {
                before += ["-device", #"{"driver":"\#(u)","id":"usb","bus":"pci.\#(port)","addr":"0x0"}"#]
                port += 1
            }
            if balloon {
                after += ["-device", #"{"driver":"virtio-balloon-pci","id":"balloon0","bus":"pci.\#(port)","addr":"0x0"}"#]
            }
        } else {
            if let u = usbDriver {
                before += ["-device", #"{"driver":"\#(u)","id":"usb","bus":"pci.0","addr":"0x1.0x2"}"#]
            }
            if balloon {
                after += ["-device", #"{"driver":"virtio-balloon-pci","id":"balloon0","bus":"pci.0","addr":"0x2"}"#]
            }
        }
        return (before, after)
    }

    /// The boot index of each disk: per-device `<boot order>` when any device has one, otherwise the
    /// position of `<boot dev>` (hd, cdrom, fd; hd when none is given) given to the first disk of that kind.
    func diskBootIndexes() -> [Int: UInt32] {
        let disks = definition.devices.disks
        var out: [Int: UInt32] = [:]
        let perDevice = disks.contains { $0.info.bootOrder != nil }
            || definition.devices.interfaces.contains { $0.info.bootOrder != nil }
        if perDevice {
            for (i, d) in disks.enumerated() { if let o = d.info.bootOrder { out[i] = o } }
            return out
        }
        let order = definition.os.bootDevices.isEmpty ? [.disk] : definition.os.bootDevices
        for (k, dev) in order.enumerated() {
            let kind: DiskDevice?
            switch dev {
            case .disk: kind = .disk
            case .cdrom: kind = .cdrom
            case .floppy: kind = .floppy
            case .network: kind = nil
            }
            if let kind, let i = disks.firstIndex(where: { $0.device == kind }) { out[i] = UInt32(k + 1) }
        }
        return out
    }

    /// `-blockdev` (storage and format nodes) and `-device` for each disk. Built so far: file and block
    /// sources, raw and qcow2, read-only, empty cdroms, on the IDE bus of a pc machine.
    func disks() throws(VirtError) -> [String] {
        let disks = definition.devices.disks
        let boot = diskBootIndexes()
        var a: [String] = []
        for (i, d) in disks.enumerated() {
            guard d.target.bus == .ide, !machineType.contains("q35") else {
                throw VirtError.configUnsupported(
                    "disk bus '\(d.target.bus?.rawValue ?? "default")' is not supported yet", domain: .qemu)
            }
            guard d.device == .disk || d.device == .cdrom else {
                throw VirtError.configUnsupported("disk device '\(d.device.rawValue)' is not supported yet", domain: .qemu)
            }
            guard d.driver.cache == nil || d.driver.cache == .default else {
                throw VirtError.configUnsupported("disk cache modes are not supported yet", domain: .qemu)
            }
            guard case .drive(let addr)? = d.info.address else {
                throw VirtError.internalError("disk '\(d.target.dev)' has no drive address", domain: .qemu)
            }
            let n = disks.count - i
            var drive: String?
            if let path = d.source.path {
                let storageDriver: String
                switch d.type {
                case .file: storageDriver = "file"
                case .block: storageDriver = "host_device"
                default:
                    throw VirtError.configUnsupported("disk type '\(d.type.rawValue)' is not supported yet", domain: .qemu)
                }
                let format = d.driver.format?.rawValue ?? "raw"
                guard format == "raw" || format == "qcow2" else {
                    throw VirtError.configUnsupported("disk format '\(format)' is not supported yet", domain: .qemu)
                }
                a += ["-blockdev", #"{"driver":"\#(storageDriver)","filename":\#(Self.jsonString(path)),"node-name":"libvirt-\#(n)-storage","auto-read-only":true,"discard":"unmap"}"#]
                a += ["-blockdev", #"{"node-name":"libvirt-\#(n)-format","read-only":\#(d.readonly),"driver":"\#(format)","file":"libvirt-\#(n)-storage"}"#]
                drive = "libvirt-\(n)-format"
            }
            let model = d.device == .cdrom ? "ide-cd" : "ide-hd"
            var dev = #"{"driver":"\#(model)","bus":"ide.\#(addr.bus)","unit":\#(addr.unit)"#
            if let drive { dev += #","drive":"\#(drive)""# }
            dev += #","id":"ide\#(addr.controller)-\#(addr.bus)-\#(addr.unit)""#
            if let b = boot[i] { dev += #","bootindex":\#(b)"# }
            a += ["-device", dev + "}"]
        }
        return a
    }

    /// A JSON string literal.
    static func jsonString(_ s: String) -> String {
        JSONValue.string(s).jsonString
    }

    /// Refuses a definition with devices the builder does not turn into arguments yet, rather than starting
    /// a guest without them.
    func checkSupportedDevices() throws(VirtError) {
        let d = definition.devices
        var kinds: [String] = []
        if !d.interfaces.isEmpty { kinds.append("interface") }
        if !d.graphics.isEmpty { kinds.append("graphics") }
        if d.videos.contains(where: { $0.model.rawValue != "none" }) { kinds.append("video") }
        if !d.sounds.isEmpty { kinds.append("sound") }
        if d.inputs.contains(where: { $0.bus != .ps2 }) { kinds.append("input") }
        if !d.channels.isEmpty { kinds.append("channel") }
        if d.consoles.dropFirst().contains(where: { _ in true })
            || d.consoles.first.map({ $0.targetType != "serial" }) == true { kinds.append("console") }
        if !d.parallels.isEmpty { kinds.append("parallel") }
        if !d.tpms.isEmpty { kinds.append("tpm") }
        if !d.watchdogs.isEmpty { kinds.append("watchdog") }
        if !d.rngs.isEmpty { kinds.append("rng") }
        if !d.hostdevs.isEmpty { kinds.append("hostdev") }
        if !d.redirdevs.isEmpty { kinds.append("redirdev") }
        if !d.memories.isEmpty { kinds.append("memory") }
        if !d.other.isEmpty { kinds.append(contentsOf: Set(d.other.map(\.element.name)).sorted()) }
        if !kinds.isEmpty {
            throw VirtError.configUnsupported(
                "devices not supported by the QEMU driver yet: \(kinds.joined(separator: ", "))", domain: .qemu)
        }
    }

    func cpuModel() throws(VirtError) -> String {
        // The default model of the emulated architecture.
        let is32 = definition.os.arch == "i686" || emulator.hasSuffix("-i386")
        let fallback = is32 ? "qemu32" : "qemu64"
        guard let cpu = definition.cpu else { return fallback }
        if !cpu.features.isEmpty || !cpu.numaCells.isEmpty {
            throw VirtError.configUnsupported("CPU features and NUMA cells are not supported yet", domain: .qemu)
        }
        switch cpu.mode {
        case .custom: return cpu.model ?? fallback
        case .hostPassthrough: return cpu.migratable == false ? "host,migratable=off" : "host,migratable=on"
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
