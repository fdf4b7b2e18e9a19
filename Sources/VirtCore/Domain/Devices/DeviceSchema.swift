/// The `define --validate` check for `<devices>`: unknown device elements, and unknown attributes and children
/// of the device kinds SwiftVirt models, are rejected as libvirt's schema rejects them.
enum DeviceSchema {
    static let info: Set<String> = ["address", "alias", "boot", "acpi", "rom"]

    /// Allowed attributes and child elements per device element.
    static let rules: [String: (attrs: Set<String>, children: Set<String>)] = [
        "emulator": ([], []),
        "disk": (["type", "device", "model", "rawio", "sgio", "snapshot"],
                 ["driver", "source", "target", "readonly", "shareable", "transient", "serial", "wwn", "vendor",
                  "product", "geometry", "blockio", "iotune", "backingStore", "encryption", "auth", "mirror",
                  "boot", "alias", "address", "acpi", "throttlefilters"]),
        "controller": (["type", "index", "model", "ports", "vectors", "maxGrantFrames", "maxEventChannels"],
                       ["model", "target", "driver", "master", "pcihole64", "alias", "address", "acpi"]),
        "interface": (["type", "trustGuestRxFilters"],
                      ["mac", "source", "script", "downscript", "target", "model", "driver", "backend", "link",
                       "mtu", "boot", "alias", "address", "rom", "acpi", "vlan", "virtualport", "bandwidth", "ip",
                       "route", "guest", "filterref", "tune", "teaming", "coalesce", "backenddomain",
                       "portForward", "port"]),
        "serial": (["type"], ["source", "target", "protocol", "log", "alias", "address", "acpi"]),
        "parallel": (["type"], ["source", "target", "protocol", "log", "alias", "address", "acpi"]),
        "console": (["type", "tty"], ["source", "target", "protocol", "log", "alias", "address", "acpi"]),
        "channel": (["type"], ["source", "target", "protocol", "log", "alias", "address", "acpi"]),
        "input": (["type", "bus", "model"], ["source", "driver", "alias", "address", "acpi"]),
        "tpm": (["model"], ["backend", "alias", "address", "acpi"]),
        "graphics": (["type", "port", "autoport", "websocket", "websocketGenerated", "listen", "keymap",
                      "sharePolicy", "passwd", "passwdValidTo", "connected", "socket", "tlsPort", "defaultMode",
                      "display", "xauth", "fullscreen", "multiUser", "replaceUser", "powerControl"],
                     ["listen", "channel", "image", "jpeg", "zlib", "playback", "streaming", "clipboard", "mouse",
                      "filetransfer", "gl", "audio"]),
        "sound": (["model", "multichannel"], ["codec", "audio", "driver", "alias", "address", "acpi"]),
        "video": ([], ["model", "driver", "alias", "address", "acpi"]),
        "watchdog": (["model", "action"], ["alias", "address", "acpi"]),
        "memballoon": (["model", "autodeflate", "freePageReporting"], ["stats", "driver", "alias", "address",
                                                                        "acpi"]),
        "rng": (["model"], ["rate", "backend", "driver", "alias", "address", "acpi"]),
        "memory": (["model", "access", "discard"], ["source", "target", "alias", "address", "acpi", "uuid"]),
        "redirdev": (["bus", "type"], ["source", "protocol", "boot", "alias", "address", "acpi"]),
        "hostdev": (["mode", "type", "managed", "sgio", "rawio", "model", "display", "ramfb"],
                    ["source", "driver", "readonly", "shareable", "boot", "alias", "address", "rom", "acpi",
                     "teaming", "origstates"]),
    ]

    static func check(_ devices: XMLElement) throws(VirtError) {
        let generic = DomainDevices.genericNames
        for e in devices.elements {
            if e.prefix != nil { throw DeviceError.schema(e.qualifiedName) }
            if generic.contains(e.name) { continue }
            guard let r = rules[e.name] else { throw DeviceError.schema(e.name) }
            for a in e.attributes where !r.attrs.contains(a.name) { throw DeviceError.schema("\(e.name)@\(a.name)") }
            for c in e.elements where !r.children.contains(c.name) || c.prefix != nil {
                throw DeviceError.schema("\(e.name)/\(c.name)")
            }
            if e.name == "emulator", !e.elements.isEmpty { throw DeviceError.schema("emulator") }
        }
    }
}
