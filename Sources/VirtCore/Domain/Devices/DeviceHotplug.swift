/// One device's XML as `virDomainAttachDevice`, `DetachDevice` and `UpdateDevice` take it (libvirt's
/// `virDomainDeviceDefParse`): the element parsed by the same parsers as inside `<devices>`, with the
/// per-device post-parse defaults (disk bus from the target name, drive addresses, generated MACs).
public struct DeviceDefinition: Sendable, Hashable {
    /// The element name: `disk`, `interface`, `controller`, ….
    public var kind: String
    /// A device list holding exactly this device.
    public var devices: DomainDevices
    /// Whether an `<interface>` named its MAC address (libvirt matches a NIC to detach by it only then).
    public var macSpecified = false

    /// Element names a device XML may have (libvirt's `virDomainDeviceType` plus the character devices).
    public static let kinds: Set<String> = [
        "disk", "lease", "filesystem", "interface", "input", "sound", "video", "hostdev", "watchdog", "controller",
        "graphics", "hub", "redirdev", "smartcard", "serial", "parallel", "console", "channel", "memballoon",
        "nvram", "rng", "shmem", "tpm", "panic", "memory", "iommu", "vsock", "audio", "crypto",
    ]

    public static func parse(_ xml: String, options: DomainParseOptions = .init()) throws(VirtError) -> DeviceDefinition {
        let root = try XMLParser.parse(xml, documentName: "device_definition")
        guard root.prefix == nil, kinds.contains(root.name) else {
            throw VirtError.configUnsupported("unknown device type '\(root.name)'", domain: .domain)
        }
        let wrapper = XMLElement(name: "devices", children: [.element(root)])
        var d = try DomainDevices.parseDevices(wrapper, options: options)
        for i in d.disks.indices { try d.disks[i].postParse() }
        for i in d.inputs.indices { d.inputs[i].postParse() }
        for disk in d.disks { try disk.validate() }
        // A serial port or console without a port number gets one from the domain it goes to (libvirt's -1 until
        // then).
        if root.name == "serial", root.child("target")?.attr("port") == nil, !d.serials.isEmpty {
            d.serials[0].targetPort = nil
        }
        // A console keeps the port its XML gives (inside <devices> consoles are numbered by position).
        if root.name == "console", !d.consoles.isEmpty {
            d.consoles[0].targetPort = root.child("target")?.attr("port").flatMap { Int32($0) }
        }
        var def = DeviceDefinition(kind: root.name, devices: d)
        def.macSpecified = root.child("mac")?.attr("address") != nil
        return def
    }

    /// The disk, when this is one.
    public var disk: Disk? { devices.disks.first }
    /// The NIC, when this is one.
    public var interface: NetInterface? { devices.interfaces.first }
    /// The controller, when this is one.
    public var controller: Controller? { devices.controllers.first }
}

extension DomainDevices {
    /// libvirt's `virDomainDiskInsert` for a device added to a definition.
    public mutating func insert(disk: Disk) { insertDisk(disk) }
    /// libvirt's `virDomainControllerInsert`.
    public mutating func insert(controller: Controller) { insertController(controller) }
    /// The generic post-parse rules over the whole list (implicit controllers, indexes) and libvirt's
    /// validation, as after a device was added to a definition.
    public mutating func postParseAfterChange() throws(VirtError) {
        try postParse()
        try validate()
    }

    /// Adds a serial port as libvirt's qemuDomainChrPreInsert/qemuDomainChrInsert do: the first one of a domain
    /// without serial ports and consoles brings the console that mirrors it (`<console>` with `<target
    /// type='serial' port='0'/>`, written from the port), whatever the port's target type (ISA, USB, PCI).
    public mutating func insertSerial(_ c: CharDevice) {
        let copy = serials.isEmpty && consoles.isEmpty
        add(.chr(c))
        if copy, var stub = serials.last {
            stub.kind = .console
            stub.targetType = "serial"
            stub.targetModel = nil
            stub.targetPort = 0
            stub.info = DeviceInfo()
            consoles.append(stub)
        }
    }

    /// Removes a serial port as libvirt's qemuDomainChrRemove does: the first port takes the console that
    /// mirrors it along.
    @discardableResult
    public mutating func removeSerial(at i: Int) -> CharDevice {
        if i == 0, let first = consoles.first, first.targetType == "serial" { consoles.removeFirst() }
        return serials.remove(at: i)
    }
}
