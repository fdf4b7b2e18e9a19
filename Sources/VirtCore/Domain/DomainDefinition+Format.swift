extension DomainDefinition {
    /// Formats the definition as libvirt's `virDomainDefFormat` does.
    public func formatXML(_ options: DomainFormatOptions = .init()) -> String {
        var w = XMLWriter()
        format(into: &w, options: options)
        return w.output
    }

    /// Writes `<domain>` into `w`.
    public func format(into w: inout XMLWriter, options: DomainFormatOptions) {
        var rootAttrs: [(String, String?)] = [("type", type)]
        if !options.inactive, let id = options.id { rootAttrs.append(("id", String(id))) }
        // Declarations of the hypervisor namespaces the namespace elements use (as libvirt's driver XML
        // namespaces write `xmlns:qemu='…'`), not those only metadata used.
        for n in namespaces where namespaceElements.contains(where: { $0.prefix == n.prefix }) {
            rootAttrs.append(("xmlns:\(n.prefix)", n.href))
        }
        w.element("domain", rootAttrs) { w in
            w.text("name", [], name)
            w.text("uuid", [], uuid.description)
            if let g = genid { w.text("genid", [], g.description) }
            w.optionalText("title", title)
            w.optionalText("description", description)
            if let m = metadata { w.node(m) }
            if let mm = maxMemory {
                w.text("maxMemory", [("slots", String(mm.slots)), ("unit", "KiB")], String(mm.size))
            }
            w.text("memory", [("dumpCore", memoryDumpCore.map { $0 ? "on" : "off" }), ("unit", "KiB")],
                   String(memory))
            w.text("currentMemory", [("unit", "KiB")], String(currentMemory))
            writeExtras(["blkiotune", "memtune", "memoryBacking"], into: &w)
            w.text("vcpu", [("placement", vcpuPlacement.rawValue), ("cpuset", vcpuCPUSet?.description),
                            ("current", currentVcpus.map { String($0) })], String(vcpus))
            formatVcpus(into: &w)
            if let n = iothreads { w.text("iothreads", [], String(n)) }
            if formatsIOThreadIDs { writeExtras(["iothreadids"], into: &w) }
            writeExtras(["defaultiothread", "cputune", "numatune", "resource", "sysinfo"], into: &w)
            w.optionalText("bootloader", bootloader)
            w.optionalText("bootloader_args", bootloaderArgs)
            os.format(into: &w)
            writeExtras(["idmap"], into: &w)
            features.format(into: &w)
            cpu?.format(into: &w)
            clock.format(into: &w)
            w.text("on_poweroff", [], onPoweroff.rawValue)
            w.text("on_reboot", [], onReboot.rawValue)
            w.text("on_crash", [], onCrash.rawValue)
            if let l = onLockfailure { w.text("on_lockfailure", [], l.rawValue) }
            pm?.format(into: &w)
            writeExtras(["perf"], into: &w)
            devices.format(into: &w, options: options)
            writeExtras(["seclabel", "keywrap", "launchSecurity"], into: &w)
            for e in namespaceElements { w.formatted(e) }
        }
    }

    private func writeExtras(_ names: [String], into w: inout XMLWriter) {
        if extraElements.isEmpty { return }
        for n in names {
            for e in extraElements where e.name == n { w.formatted(e) }
        }
    }
}
