import VirtCore

/// The QEMU driver's capabilities document (`virConnectGetCapabilities`), in libvirt's layout: the host's
/// CPU, memory topology and security models, then one `<guest>` per QEMU system emulator found.
public enum QEMUCapabilitiesXML {
    /// One probed emulator and the arch it serves.
    public struct Guest: Sendable {
        public var arch: QEMUGuestArch
        public var caps: QEMUCapabilities
        public init(arch: QEMUGuestArch, caps: QEMUCapabilities) {
            self.arch = arch
            self.caps = caps
        }
    }

    /// Formats the document. `uuid` is the host UUID, `label` QEMU's user and group (the DAC base label),
    /// `hostProbe` the probe of the emulator for the host's own arch (its CPU model definitions name the host
    /// CPU), `kvmUsable` whether /dev/kvm can be opened.
    public static func format(host: HostCapabilities, uuid: VirtUUID, guests: [Guest], hostProbe: QEMUCapabilities?,
                              label: (uid: UInt32, gid: UInt32), kvmUsable: Bool) -> String {
        var w = XMLWriter()
        w.container("capabilities") { w in
            w.raw("\n")
            formatHost(&w, host: host, uuid: uuid, hostProbe: hostProbe, label: label)
            w.raw("\n")
            for g in guests {
                formatGuest(&w, g, hostArch: host.arch, kvmUsable: kvmUsable)
                w.raw("\n")
            }
        }
        return w.output
    }

    /// The host CPU named as a model plus features (x86 only; other arches get just `<arch>`).
    public static func hostCPU(_ host: HostCapabilities, probe: QEMUCapabilities?) -> CPUModelDecoder.Decoded? {
        guard let probe, let names = (probe.kvm ?? probe.tcg)?.hostCPU?.featureNames else { return nil }
        // Linux's flags and, where it hides one the CPU reports, CPUID's bit (libvirt reads CPUID).
        let have = CPUModelDecoder.qemuNames(ofLinuxFlags: host.flags + (host.cpuidFeatures ?? []), known: names)
        return CPUModelDecoder.decode(host: have, hostVendor: host.cpuinfo["vendor_id"], models: probe.cpuModels,
                                      exact: true)
    }

    static func formatHost(_ w: inout XMLWriter, host: HostCapabilities, uuid: VirtUUID, hostProbe: QEMUCapabilities?,
                           label: (uid: UInt32, gid: UInt32)) {
        w.container("host") { w in
            w.text("uuid", [], uuid.description)
            w.container("cpu") { w in
                w.text("arch", [], host.arch)
                let decoded = hostCPU(host, probe: hostProbe)
                if let decoded { w.text("model", [], decoded.model) }
                if let v = CPUModelDecoder.vendorName(host.cpuinfo["vendor_id"]) { w.text("vendor", [], v) }
                if let mc = host.cpuinfo["microcode"], let n = UInt64(mc.replacingOccurrences(of: "0x", with: ""), radix: 16) {
                    w.empty("microcode", [("version", "\(n)")])
                }
                if let fam = host.cpuinfo["cpu family"], let model = host.cpuinfo["model"],
                   let step = host.cpuinfo["stepping"] {
                    w.empty("signature", [("family", fam), ("model", model), ("stepping", step)])
                }
                if host.flags.contains("constant_tsc"), host.flags.contains("nonstop_tsc"),
                   let mhz = host.cpuinfo["cpu MHz"].flatMap({ Double($0) }) {
                    let hz = UInt64((mhz * 1000).rounded()) * 1000
                    w.empty("counter", [("name", "tsc"), ("frequency", "\(hz)"),
                                        ("scaling", host.flags.contains("tsc_scale") ? "yes" : "no")])
                }
                w.empty("topology", [("sockets", "\(host.sockets)"), ("dies", "\(host.diesPerSocket)"),
                                     ("cores", "\(host.coresPerDie)"), ("threads", "\(host.threadsPerCore)")])
                if let a = host.cpuinfo["address sizes"], let bits = a.split(separator: " ").first {
                    w.empty("maxphysaddr", [("mode", "emulate"), ("bits", String(bits))])
                }
                var features = (decoded?.require ?? []).map(CPUModelDecoder.libvirtName)
                // CPUID's OSXSAVE bit: Linux turns XSAVE on whenever it lists the xsave flag.
                if decoded != nil, host.flags.contains("xsave"), !features.contains("osxsave") { features.append("osxsave") }
                for f in CPUFeatureOrder.sorted(features) { w.empty("feature", [("name", f)]) }
                for p in host.pageSizes { w.empty("pages", [("unit", "KiB"), ("size", "\(p)")]) }
            }
            w.element("power_management") { w in
                if host.powerStates.contains("mem") { w.empty("suspend_mem") }
                if host.powerStates.contains("disk") { w.empty("suspend_disk") }
                if host.powerStates.contains("mem") && host.powerStates.contains("disk") { w.empty("suspend_hybrid") }
            }
            w.empty("iommu", [("support", host.iommu ? "yes" : "no")])
            w.container("migration_features") { w in
                w.empty("live")
                w.container("uri_transports") { w in
                    w.text("uri_transport", [], "tcp")
                    if hostProbe?.schemaHas("migrate-set-capabilities/arg-type/capabilities/capability/^rdma-pin-all") == true {
                        w.text("uri_transport", [], "rdma")
                    }
                }
            }
            if !host.cells.isEmpty {
                w.container("topology") { w in
                    w.container("cells", [("num", "\(host.cells.count)")]) { w in
                        for c in host.cells { formatCell(&w, c) }
                    }
                }
            }
            if !host.caches.isEmpty {
                w.container("cache") { w in
                    for b in host.caches {
                        let (size, unit) = scaled(b.size)
                        w.empty("bank", [("id", "\(b.id)"), ("level", "\(b.level)"), ("type", b.type),
                                         ("size", "\(size)"), ("unit", unit), ("cpus", b.cpus)])
                    }
                }
            }
            w.container("secmodel") { w in
                w.text("model", [], "none")
                w.text("doi", [], "0")
            }
            w.container("secmodel") { w in
                w.text("model", [], "dac")
                w.text("doi", [], "0")
                w.text("baselabel", [("type", "kvm")], "+\(label.uid):+\(label.gid)")
                w.text("baselabel", [("type", "qemu")], "+\(label.uid):+\(label.gid)")
            }
        }
    }

    static func formatCell(_ w: inout XMLWriter, _ c: HostCapabilities.Cell) {
        w.container("cell", [("id", "\(c.id)")]) { w in
            w.text("memory", [("unit", "KiB")], "\(c.memory)")
            for p in c.pages { w.text("pages", [("unit", "KiB"), ("size", "\(p.size)")], "\(p.count)") }
            if !c.distances.isEmpty {
                w.container("distances") { w in
                    for d in c.distances { w.empty("sibling", [("id", "\(d.id)"), ("value", "\(d.value)")]) }
                }
            }
            w.container("cpus", [("num", "\(c.cpus.count)")]) { w in
                for cpu in c.cpus {
                    w.empty("cpu", [("id", "\(cpu.id)"), ("socket_id", "\(cpu.socketID)"), ("die_id", "\(cpu.dieID)"),
                                    ("core_id", "\(cpu.coreID)"), ("siblings", cpu.siblings)])
                }
            }
        }
    }

    /// Bytes in the largest unit that divides them (libvirt's cache bank sizes).
    static func scaled(_ bytes: UInt64) -> (UInt64, String) {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = bytes
        var i = 0
        while v >= 1024, v % 1024 == 0, i < units.count - 1 {
            v /= 1024
            i += 1
        }
        return (v, units[i])
    }

    /// The machine list as libvirt prints it: QEMU's order with the default machine first, `none` left out,
    /// and each alias after its canonical machine.
    public static func machineEntries(_ caps: QEMUCapabilities) -> [(name: String, canonical: String?, maxCPUs: Int,
                                                                       deprecated: Bool)] {
        var ms = caps.machines.filter { $0.name != "none" }
        if let i = ms.firstIndex(where: \.isDefault) { ms.insert(ms.remove(at: i), at: 0) }
        var out: [(String, String?, Int, Bool)] = []
        for m in ms {
            out.append((m.name, nil, m.maxCPUs, m.deprecated))
            if let a = m.alias { out.append((a, m.name, m.maxCPUs, m.deprecated)) }
        }
        return out
    }

    static func formatGuest(_ w: inout XMLWriter, _ g: Guest, hostArch: String, kvmUsable: Bool) {
        w.container("guest") { w in
            w.text("os_type", [], "hvm")
            w.container("arch", [("name", g.arch.name)]) { w in
                w.text("wordsize", [], "\(g.arch.wordSize)")
                w.text("emulator", [], g.caps.binaryPath)
                for m in machineEntries(g.caps) {
                    w.text("machine", [("canonical", m.canonical), ("maxCpus", "\(m.maxCPUs)"),
                                       ("deprecated", m.deprecated ? "yes" : nil)], m.name)
                }
                w.empty("domain", [("type", "qemu")])
                if kvmUsable && g.caps.kvmAvailable && g.arch.kvmCompatible(hostArch: hostArch) {
                    w.empty("domain", [("type", "kvm")])
                }
            }
            w.container("features") { w in
                let x86 = g.arch.name == "i686" || g.arch.name == "x86_64"
                if g.arch.name == "i686" {
                    w.empty("pae")
                    w.empty("nonpae")
                }
                if x86 || g.arch.name == "aarch64" {
                    w.empty("acpi", [("default", "on"), ("toggle", "yes")])
                }
                if x86 { w.empty("apic", [("default", "on"), ("toggle", "no")]) }
                w.empty("cpuselection")
                w.empty("deviceboot")
                w.empty("disksnapshot", [("default", "on"), ("toggle", "no")])
            }
        }
    }
}
