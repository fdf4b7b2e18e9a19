import VirtCore

#if canImport(Glibc)
import Glibc
#endif

extension QEMUCommandLine {
    func tpmArguments(into a: inout [String]) throws(VirtError) {
        for (i, t) in definition.devices.tpms.enumerated() {
            let alias = t.info.alias ?? "tpm\(i)"
            switch t.backend {
            case .emulator:
                if nativeConversion {
                    a += ["-chardev", "null,id=chrtpm"]
                } else if let socket = tpmSocketPaths[alias] {
                    a += ["-chardev", "socket,id=chrtpm,path=\(Self.escape(socket))"]
                } else {
                    guard let dir = privateDir else {
                        throw VirtError.configUnsupported("TPM emulator needs the domain's private directory",
                                                          domain: .qemu)
                    }
                    a += ["-chardev", "socket,id=chrtpm,path=\(Self.escape(dir + "/swtpm.sock"))"]
                }
                a += ["-tpmdev", "emulator,id=tpm-\(alias),chardev=chrtpm"]
            case .passthrough(let path):
                let dev = path ?? "/dev/tpm0"
                guard access(dev, F_OK) == 0 else {
                    throw VirtError(.operationFailed, "Could not open TPM device \(dev): No such file or directory")
                }
                a += ["-tpmdev", "passthrough,id=tpm-\(alias),path=\(Self.escape(dev))"]
            case .external:
                throw VirtError.configUnsupported("external TPM backends are not supported yet", domain: .qemu)
            }
            var p = QEMUJSONProps()
            p.add("driver", (t.model ?? .tis).rawValue)
            p.add("tpmdev", "tpm-\(alias)")
            p.add("id", alias)
            address(t.info, &p)
            a += ["-device", p.rendered]
        }
    }

    func inputArguments(into a: inout [String]) {
        for (i, inp) in definition.devices.inputs.enumerated() {
            let driver: String
            switch (inp.bus, inp.type) {
            case (.usb?, .tablet): driver = "usb-tablet"
            case (.usb?, .mouse): driver = "usb-mouse"
            case (.usb?, .keyboard): driver = "usb-kbd"
            case (.virtio?, .tablet): driver = "virtio-tablet-pci"
            case (.virtio?, .mouse): driver = "virtio-mouse-pci"
            case (.virtio?, .keyboard): driver = "virtio-keyboard-pci"
            default: continue
            }
            var p = QEMUJSONProps()
            p.add("driver", driver)
            p.add("id", inp.info.alias ?? "input\(i)")
            address(inp.info, &p)
            a += ["-device", p.rendered]
        }
    }

    /// The `-audiodev` every domain gets (driver `spice` with SPICE graphics, else `none`); returns its id.
    func audioArguments(into a: inout [String]) -> String {
        let spice = definition.devices.graphics.contains { $0.type == .spice }
        a += ["-audiodev", #"{"id":"audio1","driver":"\#(spice ? "spice" : "none")"}"#]
        return "audio1"
    }

    func graphicsArguments(into a: inout [String], audio: String) {
        for g in definition.devices.graphics {
            switch g.type {
            case .vnc:
                var s: String
                switch g.listens.first {
                case .socket(let path?)?: s = "vnc=unix:" + Self.escape(path)
                case .none?: s = "none"
                case .address(let addr)?:
                    s = vncHost(addr) + ":" + String(max(0, (g.port ?? 5900) - 5900))
                case .network(_, let addr)?:
                    s = vncHost(addr) + ":" + String(max(0, (g.port ?? 5900) - 5900))
                default:
                    s = "127.0.0.1:" + String(max(0, (g.port ?? 5900) - 5900))
                }
                if let ws = g.websocket { s += ",websocket=\(ws)" }
                if let share = g.sharePolicy { s += ",share=\(share)" }
                if g.passwd != nil { s += ",password=on" }
                s += ",audiodev=\(audio)"
                a += ["-vnc", s]
            case .spice:
                var s: [String] = []
                var port = g.port
                var tlsPort = g.tlsPort
                if nativeConversion {
                    // Without a real start libvirt puts its placeholder ports in (5901, TLS 5902).
                    if g.autoport || port == -1 { port = 5901 }
                    if tlsPort == -1 { tlsPort = 5902 }
                }
                if let p = port, p > 0 { s.append("port=\(p)") }
                if let t = tlsPort, t > 0 { s.append("tls-port=\(t)") }
                if case .address(let addr)? = g.listens.first {
                    s.append("addr=" + (addr ?? "127.0.0.1"))
                } else if g.listens.isEmpty {
                    s.append("addr=127.0.0.1")
                }
                if g.passwd == nil { s.append("disable-ticketing=on") }
                if let t = tlsPort, t > 0 { s.append("x509-dir=" + Self.escape(tlsX509Dir)) }
                for e in g.extra {
                    switch e.name {
                    case "image": if let c = e.attr("compression") { s.append("image-compression=\(c)") }
                    case "jpeg": if let c = e.attr("compression") { s.append("jpeg-wan-compression=\(c)") }
                    case "zlib": if let c = e.attr("compression") { s.append("zlib-glz-wan-compression=\(c)") }
                    case "playback": if let c = e.attr("compression") { s.append("playback-compression=\(c)") }
                    case "streaming": if let m = e.attr("mode") { s.append("streaming-video=\(m)") }
                    default: break
                    }
                }
                s.append("seamless-migration=on")
                a += ["-spice", s.joined(separator: ",")]
            default:
                continue
            }
        }
    }

    func vncHost(_ addr: String?) -> String {
        guard let addr else { return "127.0.0.1" }
        return addr.contains(":") ? "[\(addr)]" : addr
    }

    func videoArguments(into a: inout [String]) {
        for (i, v) in definition.devices.videos.enumerated() {
            let primary = i == 0
            var p = QEMUJSONProps()
            switch v.model {
            case .none: continue
            case .cirrus: p.add("driver", "cirrus-vga"); p.add("id", v.info.alias)
            case .vmvga: p.add("driver", "vmware-svga"); p.add("id", v.info.alias)
            case .vga, .default:
                p.add("driver", "VGA"); p.add("id", v.info.alias)
                p.add("vgamem_mb", int: Int64((v.vram ?? 16384) / 1024))
            case .bochs:
                p.add("driver", "bochs-display"); p.add("id", v.info.alias)
                p.add("vgamem", int: Int64((v.vram ?? 16384) * 1024))
            case .virtio:
                p.add("driver", primary ? "virtio-vga" : "virtio-gpu-pci"); p.add("id", v.info.alias)
                p.add("max_outputs", int: Int64(v.heads ?? 1))
            case .qxl:
                p.add("driver", primary ? "qxl-vga" : "qxl"); p.add("id", v.info.alias)
                p.add("max_outputs", int: Int64(v.heads ?? 1))
                p.add("ram_size", int: Int64(v.ram ?? 65536) * 1024)
                p.add("vram_size", int: Int64(v.vram ?? 65536) * 1024)
                p.add("vram64_size_mb", int: Int64((v.vram64 ?? 0) / 1024))
                p.add("vgamem_mb", int: Int64((v.vgamem ?? 16384) / 1024))
            case .ramfb: p.add("driver", "ramfb"); p.add("id", v.info.alias)
            default: continue
            }
            address(v.info, &p)
            a += ["-device", p.rendered]
        }
    }

    func soundArguments(into a: inout [String], audio: String) {
        for (i, s) in definition.devices.sounds.enumerated() {
            let alias = s.info.alias ?? "sound\(i)"
            var p = QEMUJSONProps()
            switch s.model {
            case .pcspk:
                a += ["-soundhw", "pcspk"]
                continue
            case .es1370, .ac97, .sb16, .usb:
                let driver: String = switch s.model {
                case .es1370: "ES1370"
                case .ac97: "AC97"
                case .sb16: "sb16"
                default: "usb-audio"
                }
                p.add("driver", driver); p.add("id", alias); p.add("audiodev", audio)
                address(s.info, &p)
                a += ["-device", p.rendered]
            case .ich6, .ich9, .ich7:
                p.add("driver", s.model == .ich9 ? "ich9-intel-hda" : "intel-hda")
                p.add("id", alias)
                address(s.info, &p)
                a += ["-device", p.rendered]
                let codecs = s.codecs.isEmpty ? ["duplex"] : s.codecs
                for (n, c) in codecs.enumerated() {
                    var cp = QEMUJSONProps()
                    cp.add("driver", "hda-" + c)
                    cp.add("id", "\(alias)-codec\(n)")
                    cp.add("bus", "\(alias).0")
                    cp.add("cad", int: Int64(n))
                    cp.add("audiodev", audio)
                    a += ["-device", cp.rendered]
                }
            case .virtio:
                p.add("driver", "virtio-sound-pci"); p.add("id", alias); p.add("audiodev", audio)
                address(s.info, &p)
                a += ["-device", p.rendered]
            }
        }
    }

    func watchdogArguments(into a: inout [String]) {
        for (i, w) in definition.devices.watchdogs.enumerated() {
            a += ["-device", watchdogDevice(w, alias: w.info.alias ?? "watchdog\(i)").rendered]
            a += ["-watchdog-action", Self.watchdogAction(w.action)]
        }
    }

    /// A watchdog's `-device` (also `device_add` when it is hot-plugged).
    func watchdogDevice(_ w: Watchdog, alias: String) -> QEMUJSONProps {
        var p = QEMUJSONProps()
        p.add("driver", w.model.rawValue)
        p.add("id", alias)
        address(w.info, &p)
        return p
    }

    /// QEMU's action for a watchdog's: QEMU has no "dump"; it pauses and libvirt dumps.
    static func watchdogAction(_ action: WatchdogAction) -> String {
        action == .dump ? "pause" : action.rawValue
    }

    func redirdevArguments(into a: inout [String]) throws(VirtError) {
        for (i, r) in definition.devices.redirdevs.enumerated() {
            let alias = r.info.alias ?? "redir\(i)"
            var src = r.source
            if src.type == .spicevmc { src.channel = "usbredir" }
            a += ["-chardev", try chardev(src, id: "char" + alias)]
            var p = QEMUJSONProps()
            p.add("driver", "usb-redir")
            p.add("chardev", "char" + alias)
            p.add("id", alias)
            address(r.info, &p)
            a += ["-device", p.rendered]
        }
    }

    func balloonArguments(into a: inout [String]) {
        guard let b = definition.devices.memballoon else { return }
        let driver: String
        switch b.model {
        case .virtio: driver = "virtio-balloon-pci"
        case .virtioTransitional: driver = "virtio-balloon-pci-transitional"
        case .virtioNonTransitional: driver = "virtio-balloon-pci-non-transitional"
        default: return
        }
        var p = QEMUJSONProps()
        p.add("driver", driver)
        p.add("id", b.info.alias ?? "balloon0")
        if let d = b.autodeflate { p.add("deflate-on-oom", bool: d) }
        if let f = b.freePageReporting { p.add("free-page-reporting", bool: f) }
        address(b.info, &p)
        a += ["-device", p.rendered]
    }

    func rngArguments(into a: inout [String]) throws(VirtError) {
        for (i, r) in definition.devices.rngs.enumerated() {
            let alias = r.info.alias ?? "rng\(i)"
            if case .egd(let src) = r.backend { a += ["-chardev", try chardev(src, id: "char" + alias)] }
            a += ["-object", rngBackend(r, alias: alias).rendered]
            a += ["-device", rngDevice(r, alias: alias).rendered]
        }
    }

    /// An rng's backend object `obj<alias>` (`-object`, or `object-add` when it is hot-plugged); an EGD
    /// backend's chardev is `char<alias>`.
    func rngBackend(_ r: RNG, alias: String) -> QEMUJSONProps {
        var o = QEMUJSONProps()
        switch r.backend {
        case .random(let path):
            o.add("qom-type", "rng-random"); o.add("id", "obj" + alias); o.add("filename", path)
        case .builtin:
            o.add("qom-type", "rng-builtin"); o.add("id", "obj" + alias)
        case .egd:
            o.add("qom-type", "rng-egd"); o.add("id", "obj" + alias); o.add("chardev", "char" + alias)
        }
        return o
    }

    /// An rng's `-device` (also `device_add`).
    func rngDevice(_ r: RNG, alias: String) -> QEMUJSONProps {
        var p = QEMUJSONProps()
        let driver: String = switch r.model {
        case .virtio: "virtio-rng-pci"
        case .virtioTransitional: "virtio-rng-pci-transitional"
        case .virtioNonTransitional: "virtio-rng-pci-non-transitional"
        }
        p.add("driver", driver)
        p.add("rng", "obj" + alias)
        p.add("id", alias)
        if let bytes = r.rateBytes {
            p.add("max-bytes", int: Int64(bytes))
            p.add("period", int: Int64(r.ratePeriod ?? 1000))
        }
        address(r.info, &p)
        return p
    }
}
