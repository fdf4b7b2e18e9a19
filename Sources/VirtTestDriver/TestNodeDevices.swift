import Synchronization
import VirtCore

/// Event buses registered with a piece of shared test-driver state: one per connection.
final class TestEventSinks<Record: Sendable>: Sendable {
    private let sinks = Mutex<(next: Int, buses: [Int: EventBus<Record>])>((0, [:]))

    func register(_ bus: EventBus<Record>) -> Int {
        sinks.withLock { s in
            let t = s.next
            s.next += 1
            s.buses[t] = bus
            return t
        }
    }

    func unregister(_ token: Int) { _ = sinks.withLock { $0.buses.removeValue(forKey: token) } }

    func emit(_ record: Record) {
        for bus in sinks.withLock({ Array($0.buses.values) }) { bus.emit(record) }
    }
}

/// The test driver's node devices, as libvirt's: the default node has a computer and three SCSI hosts, two of
/// them vport-capable Fibre Channel HBAs; creating a vHBA makes `scsi_host12` (libvirt's mock copies
/// `scsi_host11` with the WWNN/WWPN given), destroying one removes it. Events: CREATED and DELETED.
final class TestNodeDeviceState: Sendable {
    private let devices: Mutex<[NodeDeviceDefinition]>
    let sinks = TestEventSinks<NodeDeviceEventRecord>()

    init(devices: [NodeDeviceDefinition]) {
        self.devices = Mutex(devices)
    }

    static let filterMask: UInt32 = 0x3F_FFFF

    private func find(_ name: String, in list: [NodeDeviceDefinition]) throws(VirtError) -> NodeDeviceDefinition {
        guard let d = list.first(where: { $0.name == name }) else { throw NodeDeviceErrors.noDevice(name: name) }
        return d
    }

    func device(_ name: String) throws(VirtError) -> NodeDeviceDefinition {
        let list = devices.withLock { $0 }
        return try find(name, in: list)
    }

    func names(cap: String?) -> [String] {
        devices.withLock { list in
            list.filter { cap == nil || $0.hasCapability(cap ?? "") }.compactMap(\.name)
        }
    }

    func listAll(flags: UInt32) throws(VirtError) -> [NodeDeviceRef] {
        let bad = flags & ~Self.filterMask
        if bad != 0 {
            throw VirtError.unsupportedFlags(UInt64(bad), function: "testConnectListAllNodeDevices", domain: .test)
        }
        let caps = NodeDeviceListFlags.capabilityBits.enumerated()
            .filter { flags & (1 << UInt32($0.offset)) != 0 }.map(\.element)
        return devices.withLock { list in
            list.filter { d in caps.isEmpty || caps.contains { d.hasCapability($0) } }
                .compactMap { $0.name.map(NodeDeviceRef.init(name:)) }
        }
    }

    /// `testNodeDeviceCreateXML`: a vHBA under a vport-capable parent (the one named, else the first found).
    func create(xml: String, flags: UInt32) throws(VirtError) -> NodeDeviceRef {
        if flags != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags), function: "testNodeDeviceCreateXML", domain: .test)
        }
        let def = try NodeDeviceDefinition(xml: xml)
        let label = "new device"
        guard let fc = def.fcHost else {
            throw VirtError.internalError("Device is not a fibre channel HBA", domain: .nodeDevice)
        }
        guard fc.childText("wwnn") != nil, let wwpn = fc.childText("wwpn") else {
            throw VirtError.internalError("no WWPN supplied for '\(label)', and auto-generation failed",
                                          domain: .nodeDevice)
        }
        let wwnn = fc.childText("wwnn") ?? ""
        let made: NodeDeviceDefinition = try devices.withLock { list throws(VirtError) in
            if let p = def.parent {
                guard let parent = list.first(where: { $0.name == p }) else {
                    throw VirtError.internalError("Could not find parent device for '\(label)'", domain: .nodeDevice)
                }
                guard parent.hasCapability("vports") else {
                    throw VirtError.internalError("Parent device \(p) is not capable of vport operations",
                                                  domain: .nodeDevice)
                }
            } else if !list.contains(where: { $0.hasCapability("vports") }) {
                throw VirtError.internalError("Could not find parent device for '\(label)'", domain: .nodeDevice)
            }
            // libvirt's mock: a copy of scsi_host11 named scsi_host12, with the new WWNs.
            guard var copy = list.first(where: { $0.name == "scsi_host11" }) else {
                throw NodeDeviceErrors.noDevice(name: "scsi_host11")
            }
            copy.name = "scsi_host12"
            copy.capabilities = copy.capabilities.map { c in
                guard c.attr("type") == "scsi_host" else { return c }
                var c = c
                c.children = c.children.map { child in
                    guard case .element(var inner) = child, inner.attr("type") == "fc_host" else { return child }
                    inner.children = inner.children.map { k in
                        guard case .element(var e) = k else { return k }
                        if e.name == "wwnn" { e.children = [.text(wwnn)] }
                        if e.name == "wwpn" { e.children = [.text(wwpn)] }
                        return .element(e)
                    }
                    return .element(inner)
                }
                return c
            }
            if let i = list.firstIndex(where: { $0.name == "scsi_host12" }) {
                list[i] = copy
            } else {
                list.append(copy)
            }
            return copy
        }
        let ref = NodeDeviceRef(name: made.name ?? "scsi_host12")
        sinks.emit(NodeDeviceEventRecord(device: ref, lifecycle: .created))
        return ref
    }

    /// `testNodeDeviceDestroy`: a Fibre Channel host goes away (DELETED); other devices are left as they are.
    func destroy(_ ref: NodeDeviceRef) throws(VirtError) {
        let removed: Bool = try devices.withLock { list throws(VirtError) in
            let d = try find(ref.name, in: list)
            guard d.fcHost != nil else { return false }
            list.removeAll { $0.name == ref.name }
            return true
        }
        if removed { sinks.emit(NodeDeviceEventRecord(device: ref, lifecycle: .deleted)) }
    }

    /// libvirt's default node devices, in its listing order.
    static let defaultXML = """
        <device>
          <name>scsi_host11</name>
          <parent>scsi_host1</parent>
          <capability type='scsi_host'>
            <host>11</host>
            <unique_id>10</unique_id>
            <capability type='fc_host'>
              <wwnn>2000000034563456</wwnn>
              <wwpn>1000000034563456</wwpn>
              <fabric_wwn>2000000043214321</fabric_wwn>
            </capability>
          </capability>
        </device>
        <device>
          <name>scsi_host1</name>
          <parent>computer</parent>
          <capability type='scsi_host'>
            <host>1</host>
            <unique_id>0</unique_id>
            <capability type='fc_host'>
              <wwnn>2000000012341234</wwnn>
              <wwpn>1000000012341234</wwpn>
              <fabric_wwn>2000000043214321</fabric_wwn>
            </capability>
            <capability type='vport_ops'>
              <max_vports>0</max_vports>
              <vports>0</vports>
            </capability>
          </capability>
        </device>
        <device>
          <name>computer</name>
          <capability type='system'>
            <hardware>
              <vendor>Libvirt</vendor>
              <version>Test driver</version>
              <serial>123456</serial>
              <uuid>11111111-2222-3333-4444-555555555555</uuid>
            </hardware>
            <firmware>
              <vendor>Libvirt</vendor>
              <version>Test Driver</version>
              <release_date>01/22/2007</release_date>
            </firmware>
          </capability>
        </device>
        <device>
          <name>scsi_host2</name>
          <parent>computer</parent>
          <capability type='scsi_host'>
            <host>2</host>
            <unique_id>1</unique_id>
            <capability type='fc_host'>
              <wwnn>2000000056785678</wwnn>
              <wwpn>1000000056785678</wwpn>
              <fabric_wwn>2000000087658765</fabric_wwn>
            </capability>
            <capability type='vport_ops'>
              <max_vports>0</max_vports>
              <vports>0</vports>
            </capability>
          </capability>
        </device>
        """

    static func defaults() throws(VirtError) -> [NodeDeviceDefinition] {
        let root = try XMLParser.parse("<node>\(defaultXML)</node>")
        var out: [NodeDeviceDefinition] = []
        for d in root.children("device") { out.append(try NodeDeviceDefinition(element: d)) }
        return out
    }
}

/// The test driver's host interfaces, as libvirt's: `eth1`, active; define replaces a definition of the same
/// name in place; a transaction (begin/commit/rollback) snapshots the whole list.
final class TestInterfaceState: Sendable {
    struct Object: Sendable {
        var def: InterfaceDefinition
        var active: Bool
        var ref: InterfaceRef { InterfaceRef(name: def.name ?? "", mac: def.macString) }
    }

    private struct Core: Sendable {
        var objects: [Object]
        var backup: [Object]?
    }

    private let core: Mutex<Core>

    init(interfaces: [InterfaceDefinition]) {
        core = Mutex(Core(objects: interfaces.map { Object(def: $0, active: true) }, backup: nil))
    }

    static let notValid = VirtError(.operationInvalid, domain: .test, "Requested operation is not valid")

    func object(_ name: String) throws(VirtError) -> Object {
        let objects = core.withLock { $0.objects }
        guard let o = objects.first(where: { $0.def.name == name }) else {
            throw InterfaceErrors.noInterface(name: name)
        }
        return o
    }

    func names(active: Bool) -> [String] {
        core.withLock { $0.objects.filter { $0.active == active }.compactMap(\.def.name) }
    }

    func listAll(flags: UInt32) throws(VirtError) -> [InterfaceRef] {
        let bad = flags & ~(InterfaceListFlags.active | InterfaceListFlags.inactive)
        if bad != 0 {
            throw VirtError.unsupportedFlags(UInt64(bad), function: "testConnectListAllInterfaces", domain: .test)
        }
        let wantActive = flags & InterfaceListFlags.active != 0
        let wantInactive = flags & InterfaceListFlags.inactive != 0
        return core.withLock { c in
            c.objects.filter { o in
                (!wantActive && !wantInactive) || (wantActive && o.active) || (wantInactive && !o.active)
            }.map(\.ref)
        }
    }

    func lookup(mac: String) throws(VirtError) -> InterfaceRef {
        // libvirt 9.0 compares with g_ascii_strcasecmp, which answers "equal" (after a GLib critical) for an
        // interface without a MAC address: such interfaces match every lookup, as there.
        let matches = core.withLock {
            $0.objects.filter { $0.def.mac.map { $0.lowercased() == mac.lowercased() } ?? true }
        }
        guard let first = matches.first else { throw InterfaceErrors.noInterface(mac: mac) }
        if matches.count > 1 {
            throw VirtError(VirtError.Code(rawValue: 59), domain: .test, "multiple matching interfaces found",
                            str1: "multiple matching interfaces found")
        }
        return first.ref
    }

    func define(xml: String, flags: UInt32) throws(VirtError) -> InterfaceRef {
        if flags != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags), function: "testInterfaceDefineXML", domain: .test)
        }
        let def = try InterfaceDefinition(xml: xml)
        return core.withLock { c in
            if let i = c.objects.firstIndex(where: { $0.def.name == def.name }) {
                c.objects[i].def = def
                return c.objects[i].ref
            }
            c.objects.append(Object(def: def, active: false))
            return c.objects[c.objects.count - 1].ref
        }
    }

    func undefine(_ ref: InterfaceRef) throws(VirtError) {
        try core.withLock { c throws(VirtError) in
            guard let i = c.objects.firstIndex(where: { $0.def.name == ref.name }) else {
                throw InterfaceErrors.noInterface(name: ref.name)
            }
            c.objects.remove(at: i)
        }
    }

    func setActive(_ ref: InterfaceRef, _ on: Bool, flags: UInt32, function: String) throws(VirtError) {
        if flags != 0 { throw VirtError.unsupportedFlags(UInt64(flags), function: function, domain: .test) }
        try core.withLock { c throws(VirtError) in
            guard let i = c.objects.firstIndex(where: { $0.def.name == ref.name }) else {
                throw InterfaceErrors.noInterface(name: ref.name)
            }
            guard c.objects[i].active != on else { throw Self.notValid }
            c.objects[i].active = on
        }
    }

    func begin(flags: UInt32) throws(VirtError) {
        if flags != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags), function: "testInterfaceChangeBegin", domain: .test)
        }
        try core.withLock { c throws(VirtError) in
            if c.backup != nil { throw VirtError.operationInvalid("there is another transaction running.", domain: .test) }
            c.backup = c.objects
        }
    }

    func commit(flags: UInt32) throws(VirtError) {
        if flags != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags), function: "testInterfaceChangeCommit", domain: .test)
        }
        try core.withLock { c throws(VirtError) in
            guard c.backup != nil else {
                throw VirtError.operationInvalid("no transaction running, nothing to be committed.", domain: .test)
            }
            c.backup = nil
        }
    }

    func rollback(flags: UInt32) throws(VirtError) {
        if flags != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags), function: "testInterfaceChangeRollback", domain: .test)
        }
        try core.withLock { c throws(VirtError) in
            guard let b = c.backup else {
                throw VirtError.operationInvalid("no transaction running, nothing to rollback.", domain: .test)
            }
            // libvirt's snapshot is a clone of the definitions: every interface comes back inactive.
            c.objects = b.map { Object(def: $0.def, active: false) }
            c.backup = nil
        }
    }

    static let defaultXML = """
        <interface type='ethernet' name='eth1'>
          <start mode='onboot'/>
          <mtu size='1492'/>
          <protocol family='ipv4'>
            <ip address='192.168.0.5' prefix='24'/>
            <route gateway='192.168.0.1'/>
          </protocol>
          <mac address='aa:bb:cc:dd:ee:ff'/>
        </interface>
        """
}

/// The test driver is its own node device driver, as libvirt's.
extension TestDriver: NodeDeviceDriver {
    public func numOfNodeDevices(cap: String?, flags: UInt32) async throws -> Int32 {
        if flags != 0 { throw VirtError.unsupportedFlags(UInt64(flags), function: "testNodeNumOfDevices", domain: .test) }
        return Int32(state.nodeDevices.names(cap: cap).count)
    }
    public func listNodeDevices(cap: String?, max: Int32, flags: UInt32) async throws -> [String] {
        if flags != 0 { throw VirtError.unsupportedFlags(UInt64(flags), function: "testNodeListDevices", domain: .test) }
        return Array(state.nodeDevices.names(cap: cap).prefix(Int(Swift.max(0, max))))
    }
    public func listAllNodeDevices(flags: UInt32) async throws -> [NodeDeviceRef] {
        try state.nodeDevices.listAll(flags: flags)
    }
    public func lookupNodeDevice(name: String) async throws -> NodeDeviceRef {
        NodeDeviceRef(name: try state.nodeDevices.device(name).name ?? name)
    }
    public func nodeDeviceXML(_ dev: NodeDeviceRef, flags: UInt32) async throws -> String {
        if flags != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags), function: "testNodeDeviceGetXMLDesc", domain: .test)
        }
        return try state.nodeDevices.device(dev.name).formatXML()
    }
    public func nodeDeviceParent(_ dev: NodeDeviceRef) async throws -> String? {
        try state.nodeDevices.device(dev.name).parent
    }
    public func nodeDeviceCapabilities(_ dev: NodeDeviceRef) async throws -> [String] {
        try state.nodeDevices.device(dev.name).capabilityNames
    }
    public func createNodeDevice(xml: String, flags: UInt32) async throws -> NodeDeviceRef {
        try state.nodeDevices.create(xml: xml, flags: flags)
    }
    public func destroyNodeDevice(_ dev: NodeDeviceRef) async throws { try state.nodeDevices.destroy(dev) }
    public func nodeDeviceEvents() -> AsyncStream<NodeDeviceEventRecord> { nodeDeviceBus.subscribe() }
}

/// The test driver is its own interface driver, as libvirt's.
extension TestDriver: InterfaceDriver {
    public func numOfInterfaces() async throws -> Int32 { Int32(state.interfaces.names(active: true).count) }
    public func listInterfaces(max: Int32) async throws -> [String] {
        Array(state.interfaces.names(active: true).prefix(Int(Swift.max(0, max))))
    }
    public func numOfDefinedInterfaces() async throws -> Int32 { Int32(state.interfaces.names(active: false).count) }
    public func listDefinedInterfaces(max: Int32) async throws -> [String] {
        Array(state.interfaces.names(active: false).prefix(Int(Swift.max(0, max))))
    }
    public func listAllInterfaces(flags: UInt32) async throws -> [InterfaceRef] {
        try state.interfaces.listAll(flags: flags)
    }
    public func lookupInterface(name: String) async throws -> InterfaceRef { try state.interfaces.object(name).ref }
    public func lookupInterface(mac: String) async throws -> InterfaceRef { try state.interfaces.lookup(mac: mac) }
    public func interfaceXML(_ iface: InterfaceRef, flags: UInt32) async throws -> String {
        if flags != 0 {
            throw VirtError.unsupportedFlags(UInt64(flags), function: "testInterfaceGetXMLDesc", domain: .test)
        }
        return try state.interfaces.object(iface.name).def.formatXML()
    }
    public func defineInterface(xml: String, flags: UInt32) async throws -> InterfaceRef {
        try state.interfaces.define(xml: xml, flags: flags)
    }
    public func undefineInterface(_ iface: InterfaceRef) async throws { try state.interfaces.undefine(iface) }
    public func startInterface(_ iface: InterfaceRef, flags: UInt32) async throws {
        try state.interfaces.setActive(iface, true, flags: flags, function: "testInterfaceCreate")
    }
    public func destroyInterface(_ iface: InterfaceRef, flags: UInt32) async throws {
        try state.interfaces.setActive(iface, false, flags: flags, function: "testInterfaceDestroy")
    }
    public func interfaceIsActive(_ iface: InterfaceRef) async throws -> Bool {
        try state.interfaces.object(iface.name).active
    }
    public func interfaceChangeBegin(flags: UInt32) async throws { try state.interfaces.begin(flags: flags) }
    public func interfaceChangeCommit(flags: UInt32) async throws { try state.interfaces.commit(flags: flags) }
    public func interfaceChangeRollback(flags: UInt32) async throws { try state.interfaces.rollback(flags: flags) }
}
