import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The domain capabilities document (`virConnectGetDomainCapabilities`) of one emulator, arch, machine type
/// and virtualization type, in libvirt 9.0's layout. Every value comes from the emulator's probe
/// (``QEMUCapabilities``) or the host (firmware descriptors, swtpm, /dev/kvm).
public struct QEMUDomainCapabilities: Sendable {
    public var caps: QEMUCapabilities
    public var arch: QEMUGuestArch
    /// The canonical machine type.
    public var machine: QEMUCapabilities.Machine
    /// `kvm` or `qemu`.
    public var virtType: String
    /// The firmware descriptors of the host (``QEMUFirmware/load()``).
    public var firmware: [QEMUFirmware]
    /// swtpm_setup's features (`tpm-1.2`, `tpm-2.0`), empty without swtpm.
    public var swtpmFeatures: [String]

    /// libvirt's names of virtualization types (`virDomainVirtType`), to tell an unknown type from an
    /// unsupported one.
    static let knownVirtTypes = ["none", "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware",
                                 "hyperv", "vbox", "phyp", "parallels", "bhyve", "vz"]

    /// Resolves libvirt's defaults and checks the arguments with libvirt's errors. `probe` returns the
    /// capabilities of a binary; `kvmUsable` says whether /dev/kvm opens.
    public static func resolve(emulator: String?, arch: String?, machine: String?, virtType: String?,
                               hostArch: String, kvmUsable: Bool, checkVirtType: Bool = true,
                               probe: (String) async throws -> QEMUCapabilities) async throws
        -> (QEMUCapabilities, QEMUGuestArch, QEMUCapabilities.Machine, String) {
        var guestArch: QEMUGuestArch?
        if let arch {
            guard let a = QEMUGuestArch.named(arch) ?? (knownArchNames.contains(arch) ? QEMUGuestArch(
                name: arch, qemuTarget: arch, wordSize: 64) : nil) else {
                throw VirtError(.invalidArg, domain: .qemu, "invalid argument: unknown architecture: \(arch)")
            }
            guestArch = a
        }
        if let virtType, !knownVirtTypes.contains(virtType) {
            throw VirtError(.invalidArg, domain: .qemu, "invalid argument: unknown virttype: \(virtType)")
        }
        let binary: String
        if let emulator {
            binary = emulator
        } else {
            let a = guestArch ?? QEMUGuestArch.named(hostArch)
            guard let a, let b = a.findEmulator() ?? (a.name == "i686" ? QEMUGuestArch.named("x86_64")?.findEmulator() : nil)
            else {
                throw VirtError(.configUnsupported, domain: .qemu,
                                "unsupported configuration: unable to find any emulator to serve '\(arch ?? hostArch)' architecture")
            }
            binary = b
        }
        let caps = try await probe(binary)
        guard let binArch = QEMUGuestArch.forTarget(caps.arch) else {
            throw VirtError(.internalError, domain: .qemu, "internal error: unknown arch of emulator '\(binary)'")
        }
        let a = guestArch ?? binArch
        let archOK = a == binArch || (binArch.name == "x86_64" && a.name == "i686")
            || (binArch.name == "aarch64" && a.name == "armv7l")
        guard archOK else {
            throw VirtError(.invalidArg, domain: .qemu,
                            "invalid argument: Emulator '\(binary)' does not support arch '\(a.name)'")
        }
        let type = virtType ?? ((kvmUsable && caps.kvmAvailable && a.kvmCompatible(hostArch: hostArch)) ? "kvm" : "qemu")
        let typeOK = type == "qemu" || (type == "kvm" && kvmUsable && caps.kvmAvailable && a.kvmCompatible(hostArch: hostArch))
        guard typeOK || !checkVirtType else {
            throw VirtError(.invalidArg, domain: .qemu,
                            "invalid argument: Emulator '\(binary)' does not support virt type '\(type)'")
        }
        let wanted = machine ?? caps.defaultMachine ?? ""
        guard wanted != "none", let canonical = caps.canonicalMachine(wanted),
              let m = caps.machines.first(where: { $0.name == canonical }) else {
            throw VirtError(.invalidArg, domain: .qemu,
                            "invalid argument: the machine '\(wanted)' is not supported by emulator '\(binary)'")
        }
        return (caps, a, m, type)
    }

    /// Every architecture name libvirt knows (an arch libvirt knows but no emulator serves is "unsupported",
    /// anything else "unknown").
    static let knownArchNames: Set<String> = [
        "alpha", "armv6l", "armv7l", "armv7b", "aarch64", "cris", "i686", "ia64", "lm32", "loongarch64", "m68k",
        "microblaze", "microblazeel", "mips", "mipsel", "mips64", "mips64el", "openrisc", "parisc", "parisc64",
        "ppc", "ppcle", "ppc64", "ppc64le", "ppcemb", "riscv32", "riscv64", "s390", "s390x", "sh4", "sh4eb",
        "sparc", "sparc64", "unicore32", "x86_64", "xtensa", "xtensaeb",
    ]

    var isX86: Bool { arch.name == "x86_64" || arch.name == "i686" }

    /// The document.
    public func format() -> String {
        var w = XMLWriter()
        w.container("domainCapabilities") { w in
            w.text("path", [], caps.binaryPath)
            w.text("domain", [], virtType)
            w.text("machine", [], machine.name)
            w.text("arch", [], arch.name)
            w.empty("vcpu", [("max", "\(machine.maxCPUs)")])
            w.empty("iothreads", [("supported", yes(caps.schemaHas("object-add/arg-type/qom-type/^iothread")))])
            formatOS(&w)
            formatCPU(&w)
            formatMemoryBacking(&w)
            w.container("devices") { w in formatDevices(&w) }
            w.container("features") { w in formatFeatures(&w) }
        }
        return w.output
    }

    private func yes(_ b: Bool) -> String { b ? "yes" : "no" }

    private func enumeration(_ w: inout XMLWriter, _ name: String, _ values: [String]) {
        w.element("enum", [("name", name)]) { w in
            for v in values { w.text("value", [], v) }
        }
    }

    /// The firmware descriptors that fit this arch and machine.
    var matchingFirmware: [QEMUFirmware] {
        firmware.filter { $0.supports(arch: arch.name, machine: machine.name) }
    }

    /// libvirt 9.0's `<os>`: the firmware kinds the descriptors for this arch and machine offer (`bios`,
    /// `efi`), their images that exist (each once, in descriptor order), and `secure` with `no` always and
    /// `yes` when one of them does Secure Boot. Without a descriptor the loader lists no image: libvirt's
    /// fallback list (qemu.conf's `nvram`) is empty unless configured.
    private func formatOS(_ w: inout XMLWriter) {
        w.container("os", [("supported", "yes")]) { w in
            let fw = matchingFirmware
            var kinds: [String] = []
            if fw.contains(where: { $0.interfaceTypes.contains("bios") }) { kinds.append("bios") }
            if fw.contains(where: { $0.interfaceTypes.contains("uefi") }) { kinds.append("efi") }
            enumeration(&w, "firmware", kinds)
            w.container("loader", [("supported", "yes")]) { w in
                var seen = Set<String>()
                for exe in fw.compactMap(\.loaderImage) where access(exe, F_OK) == 0 && seen.insert(exe).inserted {
                    w.text("value", [], exe)
                }
                enumeration(&w, "type", ["rom", "pflash"])
                enumeration(&w, "readonly", ["yes", "no"])
                var secure: [String] = []
                if fw.contains(where: { $0.features.contains("secure-boot") }) { secure.append("yes") }
                secure.append("no")
                enumeration(&w, "secure", secure)
            }
        }
    }

    private func formatCPU(_ w: inout XMLWriter) {
        let accel = caps.accelerator(virtType)
        w.container("cpu") { w in
            if virtType == "kvm" {
                w.container("mode", [("name", "host-passthrough"), ("supported", "yes")]) { w in
                    enumeration(&w, "hostPassthroughMigratable", ["on", "off"])
                }
            } else {
                w.empty("mode", [("name", "host-passthrough"), ("supported", "no")])
            }
            let hasMax = caps.cpuModels.contains { $0.name == "max" }
            w.element("mode", [("name", "maximum"), ("supported", yes(hasMax))]) { w in
                if hasMax { enumeration(&w, "maximumMigratable", ["on", "off"]) }
            }
            if let host = accel?.hostCPU,
               let d = CPUModelDecoder.decode(host: host.features, hostVendor: host.vendor, models: caps.cpuModels,
                                              exact: false) {
                w.container("mode", [("name", "host-model"), ("supported", "yes")]) { w in
                    w.text("model", [("fallback", "forbid")], d.model)
                    if let v = CPUModelDecoder.vendorName(host.vendor) { w.text("vendor", [], v) }
                    for f in d.require {
                        w.empty("feature", [("policy", "require"), ("name", CPUModelDecoder.libvirtName(f))])
                    }
                    for f in d.disable {
                        w.empty("feature", [("policy", "disable"), ("name", CPUModelDecoder.libvirtName(f))])
                    }
                }
            } else {
                w.empty("mode", [("name", "host-model"), ("supported", "no")])
            }
            let models = CPUModelDecoder.candidates(caps.cpuModels)
            w.element("mode", [("name", "custom"), ("supported", yes(!models.isEmpty))]) { w in
                for m in models {
                    let missing = accel?.unavailableFeatures[m.name] ?? m.unavailableFeatures
                    w.text("model", [("usable", yes(missing.isEmpty)),
                                     ("vendor", CPUModelDecoder.vendorName(of: m) ?? "unknown")], m.name)
                }
            }
        }
    }

    private func formatMemoryBacking(_ w: inout XMLWriter) {
        w.container("memoryBacking", [("supported", "yes")]) { w in
            var types: [String] = []
            if caps.schemaHas("object-add/arg-type/qom-type/^memory-backend-file") { types.append("file") }
            types.append("anonymous")
            if caps.schemaHas("object-add/arg-type/qom-type/^memory-backend-memfd") { types.append("memfd") }
            enumeration(&w, "sourceType", types)
        }
    }

    private func anyDevice(_ names: String...) -> Bool { names.contains { caps.hasDevice($0) } }

    /// virtio, virtio-transitional, virtio-non-transitional for a virtio device `base` (e.g. virtio-blk).
    private func virtioModels(_ base: String) -> [String] {
        var out: [String] = []
        if caps.hasDevice(base + "-pci") || caps.hasDevice(base + "-device") || caps.hasDevice(base + "-ccw") {
            out.append("virtio")
        }
        if caps.hasDevice(base + "-pci-transitional") { out.append("virtio-transitional") }
        if caps.hasDevice(base + "-pci-non-transitional") { out.append("virtio-non-transitional") }
        return out
    }

    /// Whether the machine type has an IDE controller built in (i440fx and isapc boards).
    var machineHasBuiltinIDE: Bool {
        isX86 && (machine.name.hasPrefix("pc-i440fx") || machine.name == "isapc" || machine.name.hasPrefix("pc-1."))
    }

    private func formatDevices(_ w: inout XMLWriter) {
        w.container("disk", [("supported", "yes")]) { w in
            var devices = ["disk", "cdrom", "floppy"]
            if caps.hasDevice("scsi-block") { devices.append("lun") }
            enumeration(&w, "diskDevice", devices)
            var bus: [String] = []
            if machineHasBuiltinIDE { bus.append("ide") }
            if isX86 && caps.hasDevice("isa-fdc") { bus.append("fdc") }
            if anyDevice("virtio-scsi-pci", "virtio-scsi-device", "virtio-scsi-ccw", "lsi53c895a", "megasas", "mptsas1068", "pvscsi", "am53c974", "dc390") {
                bus.append("scsi")
            }
            if !virtioModels("virtio-blk").isEmpty { bus.append("virtio") }
            if caps.hasDevice("usb-storage") { bus.append("usb") }
            if caps.hasDevice("ich9-ahci") { bus.append("sata") }
            enumeration(&w, "bus", bus)
            enumeration(&w, "model", virtioModels("virtio-blk"))
        }
        w.container("graphics", [("supported", "yes")]) { w in
            var types: [String] = []
            if caps.schemaHas("query-display-options/ret-type/type/^sdl") { types.append("sdl") }
            if caps.hasCommand("query-vnc") { types.append("vnc") }
            if caps.hasCommand("query-spice") { types.append("spice") }
            if caps.schemaHas("query-display-options/ret-type/type/^egl-headless") { types.append("egl-headless") }
            if caps.schemaHas("query-display-options/ret-type/type/^dbus") { types.append("dbus") }
            enumeration(&w, "type", types)
        }
        w.container("video", [("supported", "yes")]) { w in
            var models: [String] = []
            if caps.hasDevice("VGA") { models.append("vga") }
            if caps.hasDevice("cirrus-vga") { models.append("cirrus") }
            if caps.hasDevice("vmware-svga") { models.append("vmvga") }
            if caps.hasDevice("qxl-vga") || caps.hasDevice("qxl") { models.append("qxl") }
            if anyDevice("virtio-vga", "virtio-gpu-pci", "virtio-gpu-device", "virtio-gpu-ccw") { models.append("virtio") }
            models.append("none")
            if caps.hasDevice("bochs-display") { models.append("bochs") }
            if caps.hasDevice("ramfb") { models.append("ramfb") }
            enumeration(&w, "modelType", models)
        }
        w.container("hostdev", [("supported", "yes")]) { w in
            enumeration(&w, "mode", ["subsystem"])
            enumeration(&w, "startupPolicy", ["default", "mandatory", "requisite", "optional"])
            var sub: [String] = []
            if caps.hasDevice("usb-host") { sub.append("usb") }
            if caps.hasDevice("vfio-pci") { sub.append("pci") }
            if caps.hasDevice("scsi-generic") { sub.append("scsi") }
            enumeration(&w, "subsysType", sub)
            enumeration(&w, "capsType", [])
            enumeration(&w, "pciBackend", access("/dev/vfio/vfio", F_OK) == 0 && caps.hasDevice("vfio-pci") ? ["vfio"] : [])
        }
        w.container("rng", [("supported", "yes")]) { w in
            enumeration(&w, "model", virtioModels("virtio-rng"))
            var backends: [String] = []
            if caps.schemaHas("object-add/arg-type/qom-type/^rng-random") { backends.append("random") }
            if caps.schemaHas("object-add/arg-type/qom-type/^rng-egd") { backends.append("egd") }
            if caps.schemaHas("object-add/arg-type/qom-type/^rng-builtin") { backends.append("builtin") }
            enumeration(&w, "backendModel", backends)
        }
        w.container("filesystem", [("supported", "yes")]) { w in
            var types: [String] = []
            if anyDevice("virtio-9p-pci", "virtio-9p-device", "virtio-9p-ccw") { types += ["path", "handle"] }
            if anyDevice("vhost-user-fs-pci", "vhost-user-fs-device", "vhost-user-fs-ccw") { types.append("virtiofs") }
            enumeration(&w, "driverType", types)
        }
        if caps.tpmModels.isEmpty {
            w.empty("tpm", [("supported", "no")])
        } else {
            w.container("tpm", [("supported", "yes")]) { w in
                enumeration(&w, "model", ["tpm-tis", "tpm-crb", "tpm-spapr", "spapr-tpm-proxy"]
                    .filter { caps.tpmModels.contains($0) })
                var backends = ["passthrough", "emulator"].filter { caps.tpmTypes.contains($0) }
                if caps.tpmTypes.contains("emulator") { backends.append("external") }
                enumeration(&w, "backendModel", backends)
                var versions: [String] = []
                if swtpmFeatures.contains("tpm-1.2") { versions.append("1.2") }
                if swtpmFeatures.contains("tpm-2.0") { versions.append("2.0") }
                enumeration(&w, "backendVersion", versions)
            }
        }
        if caps.hasDevice("usb-redir") {
            w.container("redirdev", [("supported", "yes")]) { w in enumeration(&w, "bus", ["usb"]) }
        } else {
            w.empty("redirdev", [("supported", "no")])
        }
        w.container("channel", [("supported", "yes")]) { w in
            var types = ["pty", "unix"]
            if caps.hasCommand("query-spice") { types.append("spicevmc") }
            enumeration(&w, "type", types)
        }
    }

    private func formatFeatures(_ w: inout XMLWriter) {
        w.empty("gic", [("supported", yes(caps.hasCommand("query-gic-capabilities") && arch.name.hasPrefix("a")))])
        w.empty("vmcoreinfo", [("supported", yes(caps.hasDevice("vmcoreinfo")))])
        w.empty("genid", [("supported", yes(caps.hasDevice("vmgenid")))])
        w.empty("backingStoreInput", [("supported", yes(caps.schemaHas("blockdev-add/arg-type/driver/^file")))])
        w.empty("backup", [("supported", yes(caps.schemaHas("blockdev-backup/arg-type/+sync")
                                                 && caps.schemaHas("block-dirty-bitmap-merge/arg-type/+bitmaps")))])
        if arch.name == "s390x" { w.empty("s390-pv", [("supported", "no")]) }
        w.empty("sev", [("supported", yes(caps.sevSupported && virtType == "kvm"))])
        w.empty("sgx", [("supported", yes(caps.sgxSupported && virtType == "kvm"))])
        // The Hyper-V enlightenments libvirt sets with a value, when the CPU has their properties.
        let props = caps.accelerator(virtType)?.hostCPU?.valueProperties ?? []
        let hyperv = [("spinlocks", "hv-spinlocks"), ("vendor_id", "hv-vendor-id")].filter { props.contains($0.1) }
        if !hyperv.isEmpty {
            w.container("hyperv", [("supported", "yes")]) { w in
                enumeration(&w, "features", hyperv.map(\.0))
            }
        }
    }
}

/// A QEMU firmware descriptor (docs/interop/firmware.json): /etc/qemu/firmware overrides
/// /usr/share/qemu/firmware by file name; descriptors are taken in file-name order.
public struct QEMUFirmware: Sendable, Hashable {
    /// The descriptor's path.
    public var file: String
    /// `uefi`, `bios`, …
    public var interfaceTypes: [String]
    /// How it is mapped: `flash`, `memory` or `kernel`.
    public var device: String
    /// The firmware image.
    public var executable: String?
    /// Architecture (QEMU's name) → machine type globs.
    public var targets: [String: [String]]
    /// `secure-boot`, `requires-smm`, `amd-sev`, …
    public var features: [String]

    /// The image a loader would use: the executable of a `flash` mapping or the file of a `memory` one (a
    /// `kernel` mapping has none).
    public var loaderImage: String? { device == "flash" || device == "memory" ? executable : nil }

    /// The directories descriptors are read from, the later overridden by the earlier by file name.
    public static let defaultDirs = ["/etc/qemu/firmware", "/usr/share/qemu/firmware"]

    /// Whether the descriptor serves `arch` (libvirt's name) and `machine`.
    public func supports(arch: String, machine: String) -> Bool {
        for (a, globs) in targets where a == arch {
            for g in globs where fnmatch(g, machine, 0) == 0 { return true }
        }
        return false
    }

    /// Loads the host's descriptors.
    public static func load(dirs: [String] = defaultDirs) -> [QEMUFirmware] {
        var byName: [String: String] = [:]
        for d in dirs.reversed() {
            for f in (try? FileManager.default.contentsOfDirectory(atPath: d)) ?? [] where f.hasSuffix(".json") {
                byName[f] = d + "/" + f
            }
        }
        var out: [QEMUFirmware] = []
        for name in byName.keys.sorted() {
            guard let path = byName[name], let text = LinuxSys.readFile(path), !text.isEmpty,
                  let j = try? JSONValue.parse(text) else { continue }
            var targets: [String: [String]] = [:]
            for t in j["targets"]?.arrayValue ?? [] {
                if let a = t["architecture"]?.stringValue {
                    targets[a, default: []] += (t["machines"]?.arrayValue ?? []).compactMap(\.stringValue)
                }
            }
            let mapping = j["mapping"]
            out.append(QEMUFirmware(
                file: path,
                interfaceTypes: (j["interface-types"]?.arrayValue ?? []).compactMap(\.stringValue),
                device: mapping?["device"]?.stringValue ?? "",
                executable: mapping?["executable"]?["filename"]?.stringValue ?? mapping?["filename"]?.stringValue,
                targets: targets,
                features: (j["features"]?.arrayValue ?? []).compactMap(\.stringValue)))
        }
        return out
    }
}
