import Foundation
import VirtCore

/// Builds QEMU's command line from a domain definition, in libvirt 9.0's order and syntax (QEMU 7.2:
/// `-blockdev`/`-device`/`-netdev`/`-object` as JSON, `-chardev` as key=value).
///
/// ``arguments()`` first completes the definition as libvirt's QEMU driver does (``prepared(_:capabilities:)``:
/// implicit controllers, default models, device aliases, PCI/USB/virtio-serial addresses); the completed
/// definition is what the live XML shows. Covered: machine, accel, cpu, memory (with NUMA cells, `<memoryBacking>`
/// file/memfd/shared backends, memory devices: DIMM, NVDIMM, virtio-pmem, virtio-mem), smp topology,
/// clock, boot order (as bootindex), direct kernel boot, controllers (USB, SCSI, SATA, virtio-serial, PCIe root
/// ports), disks (raw/qcow2 files, block devices, NBD; on IDE, SATA, SCSI, virtio, USB, floppy; cdroms),
/// interfaces (user, tap-based, socket server/client/mcast/udp), serial/parallel/console/channel chardevs,
/// TPM, inputs, VNC/SPICE, video, sound, watchdog, USB redirection, balloon, RNG.
public struct QEMUCommandLine: Sendable {
    /// The default emulator.
    public static let defaultEmulator = "/usr/bin/qemu-system-x86_64"

    public var definition: DomainDefinition
    public var capabilities: QEMUCapabilities?
    /// The descriptor the monitor socket has in QEMU (see ``QEMULauncher``).
    public var monitorFD: Int32 = QEMULauncher.monitorFD
    /// The domain's private directory (libvirt's `…/domain-ID-NAME`): the master key secret lives there.
    public var privateDir: String?
    /// The passphrases of encrypted disks (by target dev), encrypted with the master key.
    public var diskSecrets: [String: QEMUEncryptedSecret] = [:]
    /// The control socket of each emulated TPM's swtpm, by the TPM's alias.
    public var tpmSocketPaths: [String: String] = [:]
    /// Where guest-agent style channels without a path get their socket (libvirt's channel target dir).
    public var channelTargetDir: String?
    /// The SPICE TLS certificate directory (libvirt's `spice_tls_x509_cert_dir`).
    public var tlsX509Dir = "/etc/pki/qemu"
    /// Descriptors of already-opened tap devices, per interface index (passed to QEMU by the launcher).
    public var tapFDs: [Int: [Int32]] = [:]
    /// The fdset of each disk opened through associated descriptors (fdgroup), by target dev.
    public var diskFDSets: [String: QEMUFDSet] = [:]
    /// The domain's directory for file-backed guest RAM (libvirt's `memory_backing_dir/<id>-<name>`).
    public var memoryBackingDir: String?
    /// `domxml-to-native` semantics: interfaces become tap devices on placeholder descriptors and the TPM
    /// emulator's socket a null chardev, as libvirt's conversion does.
    public var nativeConversion = false

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

    /// The definition completed as libvirt's QEMU driver completes it before a start: canonical machine,
    /// implicit controllers and default models, aliases, PCI/USB/virtio-serial addresses.
    public static func prepared(_ definition: DomainDefinition, capabilities: QEMUCapabilities?) -> DomainDefinition {
        var def = definition
        QEMUDomainDefaults.apply(to: &def, capabilities: capabilities)
        QEMUMemoryDevices.alignForStart(&def)
        QEMUPCIAddresses.assign(&def)
        QEMUAliases.assign(&def)
        return def
    }

    /// The definition completed as libvirt's QEMU driver completes it when it parses a definition (define,
    /// create): the machine type resolved to its canonical name, implicit devices
    /// and controllers, default models and PCI addresses. Aliases are left to the start.
    public static func completedAtDefine(_ definition: DomainDefinition, capabilities: QEMUCapabilities) throws(VirtError)
        -> DomainDefinition {
        for d in definition.devices.disks { try QEMUDiskEncryption.validate(d) }
        var def = definition
        QEMUDomainDefaults.apply(to: &def, capabilities: capabilities)
        // After the MiB alignment of the sizes: libvirt's define keeps the devices' sizes as written.
        QEMUMemoryDevices.updateTotal(&def)
        try QEMUMemoryDevices.assignSlots(&def)
        try QEMUMemoryDevices.validate(def)
        QEMUPCIAddresses.assign(&def)
        QEMUDomainDefaults.applyParseTime(to: &def, capabilities: capabilities)
        return def
    }

    /// The machine type QEMU gets: aliases resolved through the capabilities (`q35` → `pc-q35-7.2`).
    public var machineType: String {
        let m = definition.os.machine ?? capabilities?.defaultMachine ?? "pc"
        return capabilities?.canonicalMachine(m) ?? m
    }

    /// The accelerator for the domain type.
    public var accelerator: String { definition.type == "kvm" ? "kvm" : "tcg" }

    var isQ35: Bool { QEMUDomainDefaults.isQ35(machineType) }

    /// The arguments (without the binary).
    public func arguments() throws(VirtError) -> [String] {
        try QEMULifecycleActions.validate(definition)
        try checkSupportedDevices()
        var cl = self
        var def = definition
        try QEMUMemoryDevices.assignSlots(&def)
        try QEMUMemoryDevices.validate(def)
        cl.definition = Self.prepared(def, capabilities: capabilities)
        if nativeConversion && !cl.isQ35 { QEMUPCIAddresses.reassignNICsAsNativeConversion(&cl.definition) }
        return try cl.buildArguments()
    }

    /// Devices and settings this builder does not turn into arguments yet are refused, never silently left out.
    func checkSupportedDevices() throws(VirtError) {
        if definition.memoryBacking?.hugepages == true {
            try QEMUMemoryBackend.checkHugetlbfs()
            throw VirtError.configUnsupported("hugepage memory backing is not supported by the QEMU driver yet",
                                              domain: .qemu)
        }
        let d = definition.devices
        var kinds: [String] = []
        if !d.hostdevs.isEmpty { kinds.append("hostdev") }
        for m in d.memories { try QEMUMemoryDevices.checkSupported(m) }
        if d.graphics.contains(where: { $0.type != .vnc && $0.type != .spice }) { kinds.append("graphics") }
        for g in d.other where !kinds.contains(g.element.name) {
            // <audio type='none'/> is what the builder's -audiodev already gives.
            if g.element.name == "audio" && g.element.attr("type") == "none" { continue }
            // USB hubs are built (`usb-hub`).
            if g.element.name == "hub" && g.element.attr("type") == "usb" { continue }
            // An ISA <panic> (pvpanic, the x86 default model) is built; other models are not.
            if g.element.name == "panic" && (g.element.attr("model") ?? "isa") == "isa" { continue }
            kinds.append(g.element.name)
        }
        if !kinds.isEmpty {
            throw VirtError.configUnsupported(
                "devices not supported by the QEMU driver yet: \(kinds.joined(separator: ", "))", domain: .qemu)
        }
    }

    func buildArguments() throws(VirtError) -> [String] {
        let def = definition
        var a: [String] = []
        a.reserveCapacity(64)
        a += ["-name", "guest=\(Self.escape(def.name)),debug-threads=on"]
        a += ["-S"]
        if let privateDir {
            var p = QEMUJSONProps()
            p.add("qom-type", "secret"); p.add("id", "masterKey0"); p.add("format", "raw")
            p.add("file", privateDir + "/master-key.aes")
            a += ["-object", p.rendered]
        }
        let numa = def.cpu?.numaCells ?? []
        var machine = Self.escape(machineType) + ",usb=off"
        if let vmport = def.features.others["vmport"] {
            machine += ",vmport=" + (vmport.attr("state") == "on" ? "on" : "off")
        }
        machine += ",dump-guest-core=off"
        if def.devices.memories.contains(where: { $0.model == .nvdimm }) { machine += ",nvdimm=on" }
        if numa.isEmpty { machine += ",memory-backend=pc.ram" }
        a += ["-machine", machine]
        a += ["-accel", accelerator]
        a += ["-cpu", try cpuModel()]
        if let mm = def.maxMemory {
            a += ["-m", "size=\(QEMUMemoryDevices.initialKiB(def))k,slots=\(mm.slots),maxmem=\(mm.size)k"]
        } else {
            a += ["-m", String(def.memory / 1024)]
        }
        if numa.isEmpty {
            var ram = QEMUMemoryBackend.Spec(id: "pc.ram", sizeKiB: def.memory)
            QEMUMemoryBackend.applyNUMATune(&ram, def.numatune, cell: nil)
            a += ["-object", try QEMUMemoryBackend.props(ram, backing: def.memoryBacking,
                                                        backingDir: memoryBackingDir).rendered]
        }
        a += ["-overcommit", def.memoryBacking?.locked == true ? "mem-lock=on" : "mem-lock=off"]
        a += ["-smp", smp()]
        for t in def.effectiveIOThreads {
            var props = #"{"qom-type":"iothread","id":"iothread\#(t.id)""#
            if let m = t.threadPoolMin { props += #","thread-pool-min":\#(m)"# }
            if let m = t.threadPoolMax { props += #","thread-pool-max":\#(m)"# }
            a += ["-object", props + "}"]
        }
        for cell in numa {
            var spec = QEMUMemoryBackend.Spec(id: "ram-node\(cell.id)", sizeKiB: cell.memory)
            spec.access = cell.memAccess
            spec.discard = cell.discard
            QEMUMemoryBackend.applyNUMATune(&spec, def.numatune, cell: cell.id)
            a += ["-object", try QEMUMemoryBackend.props(spec, backing: def.memoryBacking,
                                                        backingDir: memoryBackingDir).rendered]
            var n = "node,nodeid=\(cell.id)"
            if let cpus = cell.cpus { n += ",cpus=" + cpus.description.replacingOccurrences(of: ",", with: ",cpus=") }
            n += ",memdev=ram-node\(cell.id)"
            a += ["-numa", n]
        }
        a += ["-uuid", def.uuid.description]
        if def.devices.graphics.isEmpty { a += ["-display", "none"] }
        a += ["-no-user-config", "-nodefaults"]
        a += QEMULauncher.monitorArguments(fd: monitorFD)
        a += ["-rtc", rtc()]
        for t in def.clock.timers {
            if t.name == .pit && t.tickPolicy == "delay" {
                a += ["-global", "kvm-pit.lost_tick_policy=delay"]
            } else if t.name == .hpet && t.present == false {
                // libvirt 9.0 with a QEMU before 8.0 (no machine property hpet).
                a += ["-no-hpet"]
            }
        }
        a += ["-no-shutdown"]
        if !def.features.acpi { a += ["-no-acpi"] }
        if let pm = def.pm {
            let dev = isQ35 ? "ICH9-LPC" : "PIIX4_PM"
            if let m = pm.suspendToMem { a += ["-global", "\(dev).disable_s3=\(m ? 0 : 1)"] }
            if let d = pm.suspendToDisk { a += ["-global", "\(dev).disable_s4=\(d ? 0 : 1)"] }
        }
        a += ["-boot", boot()]
        if let k = def.os.kernel { a += ["-kernel", k] }
        if let i = def.os.initrd { a += ["-initrd", i] }
        if let c = def.os.cmdline { a += ["-append", c] }
        let bootIndexes = bootIndexes()
        controllerArguments(into: &a)
        try memoryDeviceArguments(into: &a)
        hubArguments(into: &a)
        try diskArguments(into: &a, bootIndexes: bootIndexes)
        try networkArguments(into: &a, bootIndexes: bootIndexes)
        try charDeviceArguments(into: &a)
        try tpmArguments(into: &a)
        inputArguments(into: &a)
        let audio = audioArguments(into: &a)
        graphicsArguments(into: &a, audio: audio)
        videoArguments(into: &a)
        soundArguments(into: &a, audio: audio)
        watchdogArguments(into: &a)
        try redirdevArguments(into: &a)
        balloonArguments(into: &a)
        try rngArguments(into: &a)
        a += ["-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
        panicArguments(into: &a)
        a += ["-msg", "timestamp=on"]
        return a
    }

    /// Each USB hub on its port (`hubN`, N its position).
    func hubArguments(into a: inout [String]) {
        let hubs = definition.devices.other.filter { $0.element.name == "hub" && $0.element.attr("type") == "usb" }
        for (i, h) in hubs.enumerated() {
            var p = QEMUJSONProps()
            p.add("driver", "usb-hub")
            p.add("id", h.element.child("alias")?.attr("name") ?? "hub\(i)")
            if let addr = h.element.child("address"), addr.attr("type") == "usb", let port = addr.attr("port") {
                p.add("bus", "usb.\(addr.attr("bus") ?? "0")")
                p.add("port", port)
            }
            a += ["-device", p.rendered]
        }
    }

    /// Each memory device: its backend object, then its device.
    func memoryDeviceArguments(into a: inout [String]) throws(VirtError) {
        for m in definition.devices.memories {
            guard let alias = m.info.alias else { continue }
            a += ["-object", try QEMUMemoryDevices.backendProps(m, alias: alias, def: definition,
                                                                 backingDir: memoryBackingDir).rendered]
            a += ["-device", QEMUMemoryDevices.deviceProps(m, alias: alias, def: definition).rendered]
        }
    }

    /// `<panic model='isa'/>` (pvpanic), after the sandbox as libvirt 9.0 places it; an explicit
    /// `<address type='isa' iobase='…'/>` becomes the device's ioport.
    func panicArguments(into a: inout [String]) {
        for g in definition.devices.other where g.element.name == "panic" && (g.element.attr("model") ?? "isa") == "isa" {
            var p = QEMUJSONProps()
            p.add("driver", "pvpanic")
            if let addr = g.element.child("address"), addr.attr("type") == "isa", let io = addr.attr("iobase"),
               let port = io.hasPrefix("0x") ? UInt64(io.dropFirst(2), radix: 16) : UInt64(io) {
                p.add("ioport", int: Int64(port))
            }
            a += ["-device", p.rendered]
        }
    }

    func cpuModel() throws(VirtError) -> String {
        guard let cpu = definition.cpu else { return defaultCPU }
        var s: String
        switch cpu.mode {
        case .custom: s = cpu.model ?? defaultCPU
        case .hostPassthrough:
            s = "host"
            s += ",migratable=" + (cpu.migratable == false ? "off" : "on")
        case .maximum: s = "max"
        case .hostModel:
            s = try hostModelCPU()
        }
        for f in cpu.features {
            switch f.policy {
            case .force, .require: s += ",\(f.name)=on"
            case .disable, .forbid: s += ",\(f.name)=off"
            case .optional: break
            }
        }
        return s
    }

    /// `host-model` as libvirt 9.0 runs it: the host CPU as the named model plus features that
    /// domcapabilities reports for the domain's accelerator, in QEMU's feature names, required ones `=on` then
    /// disabled ones `=off`. Features libvirt's CPU map marks non-migratable (`invtsc`) are left out, as libvirt
    /// leaves them out of a migratable host-model CPU.
    func hostModelCPU() throws(VirtError) -> String {
        guard let caps = capabilities, let host = caps.accelerator(accelerator)?.hostCPU,
              let d = CPUModelDecoder.decode(host: host.features, hostVendor: host.vendor, models: caps.cpuModels,
                                             exact: false) else {
            throw VirtError.configUnsupported(
                "CPU mode 'host-model' for \(definition.os.arch ?? "x86_64") \(definition.type) domain on "
                    + "\(definition.os.arch ?? "x86_64") host is not supported by hypervisor", domain: .qemu)
        }
        let nonMigratable: Set<String> = ["invtsc"]
        var s = d.model
        for f in d.require where !nonMigratable.contains(f) { s += ",\(f)=on" }
        for f in d.disable { s += ",\(f)=off" }
        return s
    }

    var defaultCPU: String {
        let arch = definition.os.arch ?? capabilities?.arch ?? "x86_64"
        let is32 = arch == "i686" || arch == "i386" || (definition.os.arch == nil && emulator.hasSuffix("-i386"))
        return is32 ? "qemu32" : "qemu64"
    }

    func smp() -> String {
        let def = definition
        // libvirt's qemuBuildSmpCommandLine: the enabled vCPUs that are not hotpluggable; the enabled
        // hotpluggable ones are added with device_add at start (QEMUDomainObject+Vcpus.swift).
        let current = UInt32(def.vcpuStates.filter { $0.enabled && $0.hotpluggable != true }.count)
        var s = "\(current)"
        if current != def.vcpus { s += ",maxcpus=\(def.vcpus)" }
        if let t = def.cpu?.topology {
            s += ",sockets=\(t.sockets),dies=\(t.dies),cores=\(t.cores),threads=\(t.threads)"
        } else {
            s += ",sockets=\(def.vcpus),cores=1,threads=1"
        }
        return s
    }

    /// `-rtc` as libvirt's qemuBuildClockArgStr: utc; localtime (also for a timezone offset, whose zone QEMU gets
    /// as TZ); a variable offset as the date `adjustment` seconds from now (its basis is UTC by then, see
    /// ``QEMUDomainObject``'s prepare phase); an absolute offset as its start date.
    func rtc(now: Date = Date()) -> String {
        var s: String
        switch definition.clock.offset {
        case .utc: s = "base=utc"
        case .localtime, .timezone: s = "base=localtime"
        case .variable: s = "base=" + Self.rtcDate(Int64(now.timeIntervalSince1970) + (definition.clock.adjustment ?? 0))
        case .absolute: s = "base=" + Self.rtcDate(Int64(clamping: definition.clock.start ?? 0))
        }
        if definition.clock.timers.contains(where: { $0.name == .rtc && $0.tickPolicy == "catchup" }) {
            s += ",driftfix=slew"
        }
        return s
    }

    /// Seconds since the epoch as QEMU's `-rtc base=` date, in UTC: `2026-12-05T07:10:00`.
    static func rtcDate(_ seconds: Int64) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
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

    /// Boot indexes: per-device `<boot order>`, or `<os><boot dev>` turned into the first device of each kind
    /// (libvirt's conversion). Keyed by "disk<i>" / "net<i>".
    func bootIndexes() -> [String: UInt32] {
        let devs = definition.devices
        var out: [String: UInt32] = [:]
        for (i, d) in devs.disks.enumerated() { if let o = d.info.bootOrder { out["disk\(i)"] = o } }
        for (i, n) in devs.interfaces.enumerated() { if let o = n.info.bootOrder { out["net\(i)"] = o } }
        if !out.isEmpty || definition.os.kernel != nil { return out }
        for (pos, dev) in definition.os.bootDevices.enumerated() {
            let order = UInt32(pos + 1)
            switch dev {
            case .disk:
                if let i = devs.disks.firstIndex(where: { $0.device == .disk }) { out["disk\(i)"] = order }
            case .cdrom:
                if let i = devs.disks.firstIndex(where: { $0.device == .cdrom }) { out["disk\(i)"] = order }
            case .floppy:
                if let i = devs.disks.firstIndex(where: { $0.device == .floppy }) { out["disk\(i)"] = order }
            case .network:
                if !devs.interfaces.isEmpty { out["net0"] = order }
            }
        }
        return out
    }

    /// Adds `"bus"`/`"addr"` (and `"multifunction"`) for a PCI address, `"bus"`/`"port"` for USB.
    static func addAddress(_ info: DeviceInfo, to p: inout QEMUJSONProps, controllers: [Controller]) {
        switch info.address {
        case .pci(let a)?:
            let c = controllers.first { $0.type == .pci && $0.index == Int32(a.bus) }
            p.add("bus", c?.info.alias ?? (a.bus == 0 ? "pci.0" : "pci.\(a.bus)"))
            if a.multifunction == true { p.add("multifunction", bool: true) }
            let slot = "0x" + String(a.slot, radix: 16)
            p.add("addr", a.function == 0 ? slot : slot + ".0x" + String(a.function, radix: 16))
        case .usb(let bus, let port?)?:
            p.add("bus", "usb.\(bus)")
            p.add("port", port)
        default:
            break
        }
    }

    func address(_ info: DeviceInfo, _ p: inout QEMUJSONProps) {
        Self.addAddress(info, to: &p, controllers: definition.devices.controllers)
    }
}
