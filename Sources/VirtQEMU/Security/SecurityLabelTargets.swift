import VirtCore

extension SecurityLabelTarget {
    /// The paths of `def` that QEMU opens with its own rights, as libvirt's DAC driver labels them: file and
    /// block disk sources and their backing images (unless their `<seclabel model='dac' relabel='no'/>` says otherwise, or the domain's
    /// `<seclabel type='none'>` turns labelling off), kernel and initrd, and the host paths of character devices
    /// (file, pipe, dev, and unix sockets that QEMU connects to). `extra` are the driver's own per-domain paths.
    public static func targets(for def: DomainDefinition, extra: [SecurityLabelTarget] = []) -> [SecurityLabelTarget] {
        if def.extraElements.contains(where: { $0.name == "seclabel" && $0.attr("type") == "none"
                                                && ($0.attr("model") == nil || $0.attr("model") == "dac") }) {
            return []
        }
        var out: [SecurityLabelTarget] = []
        var seen = Set<String>()
        func add(_ t: SecurityLabelTarget) {
            if seen.insert(t.path).inserted { out.append(t) }
        }
        // Images passed as descriptors (fdgroup) are not relabelled: DAC leaves them as the client opened them.
        for d in def.devices.disks where (d.type == .file || d.type == .block || d.type == .volume) && d.source.fdGroup == nil {
            guard let p = d.localPath, !p.isEmpty else { continue }
            let noRelabel = d.source.extraChildren.contains {
                $0.name == "seclabel" && ($0.attr("model") == nil || $0.attr("model") == "dac")
                    && $0.attr("relabel") == "no"
            }
            if noRelabel { continue }
            add(SecurityLabelTarget(path: p, kind: .image))
            // Its backing images too, as libvirt's DAC driver labels a disk's whole chain.
            for l in QEMUBackingChain.layers(d) { add(SecurityLabelTarget(path: l.path, kind: .backingImage)) }
        }
        for p in [def.os.kernel, def.os.initrd].compactMap({ $0 }) where !p.isEmpty {
            add(SecurityLabelTarget(path: p, kind: .kernel))
        }
        let chardevs = def.devices.serials + def.devices.parallels + def.devices.consoles + def.devices.channels
        for c in chardevs {
            guard let p = c.source.path, !p.isEmpty else { continue }
            switch c.source.type {
            case .file, .pipe, .dev:
                add(SecurityLabelTarget(path: p, kind: .chardev, required: c.source.type == .dev))
            case .unix where !c.source.listen:
                add(SecurityLabelTarget(path: p, kind: .chardev, required: false))
            default:
                continue
            }
        }
        for t in extra { add(t) }
        return out
    }
}
