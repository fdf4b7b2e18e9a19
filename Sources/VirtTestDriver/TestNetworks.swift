import Synchronization
import VirtCore

/// One network of the test driver (`virNetworkObj`): the live definition, the persistent one waiting for the
/// network to stop (`newDef`, which libvirt 9.0's test driver never swaps back in), and its flags.
struct TestNetworkObject: Sendable {
    var def: NetworkDefinition
    var newDef: NetworkDefinition?
    var active: Bool
    var persistent: Bool
    var autostart = false

    var ref: NetworkRef { NetworkRef(def) }
    /// The persistent definition (`virNetworkObjGetPersistentDef`).
    var persistentDef: NetworkDefinition { newDef ?? def }
}

/// The networks of one test hypervisor, with libvirt 9.0's test driver rules (test_driver.c and
/// virnetworkobj.c). Every operation runs under one lock; events go to every connection's bus.
final class TestNetworkState: Sendable {
    struct Core {
        var objects: [TestNetworkObject] = []
        var sinks: [Int: EventBus<NetworkEventRecord>] = [:]
        var nextSink = 0

        func index(uuid: VirtUUID) -> Int? { objects.firstIndex { $0.def.uuid == uuid } }
        func index(name: String) -> Int? { objects.firstIndex { $0.def.name == name } }

        /// The object of a handle, by UUID as libvirt's `testNetworkObjFindByUUID`.
        func find(_ ref: NetworkRef) throws(VirtError) -> Int {
            guard let i = index(uuid: ref.uuid) else { throw NetworkErrors.noNetwork(uuid: ref.uuid) }
            return i
        }

        func emit(_ ref: NetworkRef, _ event: NetworkLifecycleEvent) {
            let record = NetworkEventRecord(network: ref, event: event)
            for bus in sinks.values { bus.emit(record) }
        }

        /// `virNetworkObjAssignDef`: a new object, or the definition given to the object of the same UUID and
        /// name; `live` for create, which refuses an active one.
        mutating func assign(_ def: NetworkDefinition, live: Bool) throws(VirtError) -> Int {
            if let i = index(uuid: def.uuid) {
                let obj = objects[i]
                if obj.def.name != def.name {
                    throw VirtError.operationFailed("network '\(obj.def.name)' is already defined with uuid \(obj.def.uuid)",
                                                    domain: .network)
                }
                if live {
                    if obj.active {
                        throw VirtError.operationInvalid("network is already active as '\(obj.def.name)'", domain: .network)
                    }
                    if obj.persistent && obj.newDef == nil { objects[i].newDef = obj.def }
                    objects[i].def = def
                } else {
                    if obj.active {
                        objects[i].newDef = def
                    } else {
                        objects[i].def = def
                        objects[i].newDef = nil
                    }
                    objects[i].persistent = true
                }
                return i
            }
            if let i = index(name: def.name) {
                throw VirtError.operationFailed("network '\(def.name)' already exists with uuid \(objects[i].def.uuid)",
                                                domain: .network)
            }
            objects.append(TestNetworkObject(def: def, newDef: nil, active: false, persistent: !live))
            return objects.count - 1
        }
    }

    private let core: Mutex<Core>

    init(networks: [NetworkDefinition]) throws(VirtError) {
        var c = Core()
        for def in networks {
            let i = try c.assign(def, live: false)
            c.objects[i].active = true
        }
        core = Mutex(c)
    }

    func register(_ bus: EventBus<NetworkEventRecord>) -> Int {
        core.withLock { c in
            let t = c.nextSink
            c.nextSink += 1
            c.sinks[t] = bus
            return t
        }
    }

    func unregister(_ token: Int) { _ = core.withLock { $0.sinks.removeValue(forKey: token) } }

    func withCore<R>(_ body: (inout Core) throws(VirtError) -> R) throws(VirtError) -> R {
        try core.withLock { c throws(VirtError) -> R in try body(&c) }
    }

    static func checkFlags(_ flags: UInt32, allowed: UInt32, _ function: String) throws(VirtError) {
        let bad = flags & ~allowed
        if bad != 0 {
            throw VirtError.unsupportedFlags(UInt64(bad), function: function, domain: .test)
        }
    }

    /// Names sorted, as the listings are given (libvirt's order is its hash table's; virsh sorts).
    func names(active: Bool) -> [String] {
        core.withLock { c in c.objects.filter { $0.active == active }.map(\.def.name).sorted() }
    }

    func listAll(flags: UInt32) throws(VirtError) -> [NetworkRef] {
        try Self.checkFlags(flags, allowed: 0x3F, "testConnectListAllNetworks")
        let f = NetworkListFlags(rawValue: flags)
        return core.withLock { c in
            c.objects.filter { f.matches(active: $0.active, persistent: $0.persistent, autostart: $0.autostart) }
                .map(\.ref).sorted { $0.name < $1.name }
        }
    }

    func lookup(uuid: VirtUUID) throws(VirtError) -> NetworkRef {
        try withCore { c throws(VirtError) in
            guard let i = c.index(uuid: uuid) else { throw NetworkErrors.noNetwork(uuid: uuid) }
            return c.objects[i].ref
        }
    }

    func lookup(name: String) throws(VirtError) -> NetworkRef {
        try withCore { c throws(VirtError) in
            guard let i = c.index(name: name) else { throw NetworkErrors.noNetwork(name: name) }
            return c.objects[i].ref
        }
    }

    func create(xml: String, flags: UInt32) throws(VirtError) -> NetworkRef {
        try Self.checkFlags(flags, allowed: 1, "testNetworkCreateXMLFlags")
        let def = try NetworkDefinition(xml: xml)
        return try withCore { c throws(VirtError) in
            let i = try c.assign(def, live: true)
            c.objects[i].active = true
            c.emit(c.objects[i].ref, .started)
            return c.objects[i].ref
        }
    }

    func define(xml: String, flags: UInt32) throws(VirtError) -> NetworkRef {
        try Self.checkFlags(flags, allowed: 1, "testNetworkDefineXMLFlags")
        let def = try NetworkDefinition(xml: xml)
        return try withCore { c throws(VirtError) in
            let i = try c.assign(def, live: false)
            c.emit(NetworkRef(def), .defined)
            return c.objects[i].ref
        }
    }

    func undefine(_ ref: NetworkRef) throws(VirtError) {
        try withCore { c throws(VirtError) in
            let i = try c.find(ref)
            let obj = c.objects[i]
            if obj.active {
                throw VirtError.operationInvalid("Network '\(obj.def.name)' is still running", domain: .test)
            }
            c.objects.remove(at: i)
            c.emit(obj.ref, .undefined)
        }
    }

    func start(_ ref: NetworkRef) throws(VirtError) {
        try withCore { c throws(VirtError) in
            let i = try c.find(ref)
            if c.objects[i].active {
                throw VirtError.operationInvalid("Network '\(c.objects[i].def.name)' is already running", domain: .test)
            }
            c.objects[i].active = true
            c.emit(c.objects[i].ref, .started)
        }
    }

    /// libvirt 9.0's test driver stops the network without checking that it runs, and keeps the live definition.
    func destroy(_ ref: NetworkRef) throws(VirtError) {
        try withCore { c throws(VirtError) in
            let i = try c.find(ref)
            c.objects[i].active = false
            let r = c.objects[i].ref
            c.emit(r, .stopped)
            if !c.objects[i].persistent { c.objects.remove(at: i) }
        }
    }

    func xml(_ ref: NetworkRef, flags: UInt32) throws(VirtError) -> String {
        try Self.checkFlags(flags, allowed: 0, "testNetworkGetXMLDesc")
        return try withCore { c throws(VirtError) in c.objects[try c.find(ref)].def.xml() }
    }

    func bridgeName(_ ref: NetworkRef) throws(VirtError) -> String {
        try withCore { c throws(VirtError) in
            let def = c.objects[try c.find(ref)].def
            guard let b = def.bridge else {
                throw VirtError.internalError("network '\(def.name)' does not have a bridge name.", domain: .test)
            }
            return b
        }
    }

    func object(_ ref: NetworkRef) throws(VirtError) -> TestNetworkObject {
        try withCore { c throws(VirtError) in c.objects[try c.find(ref)] }
    }

    func setAutostart(_ ref: NetworkRef, _ on: Bool) throws(VirtError) {
        try withCore { c throws(VirtError) in c.objects[try c.find(ref)].autostart = on }
    }

    /// `testNetworkUpdate` over `virNetworkObjUpdate`: "current" is live when running, else config; each
    /// definition is changed on a copy and replaced only when the change succeeded.
    func update(_ ref: NetworkRef, command: UInt32, section: UInt32, parentIndex: Int32, xml: String,
                flags: UInt32) throws(VirtError) {
        try Self.checkFlags(flags, allowed: 3, "testNetworkUpdate")
        try withCore { c throws(VirtError) in
            let i = try c.find(ref)
            var f = NetworkUpdateFlags(rawValue: flags)
            let obj = c.objects[i]
            if f.isDisjoint(with: [.live, .config]) { f.insert(obj.active ? .live : .config) }
            if !obj.active && f.contains(.live) {
                throw VirtError.operationInvalid("network is not running", domain: .network)
            }
            if f.contains(.config) && !obj.persistent {
                throw VirtError.operationInvalid("cannot change persistent config of a transient network", domain: .network)
            }
            var live: NetworkDefinition?
            var config: NetworkDefinition?
            if f.contains(.live) {
                var d = obj.def
                try d.update(command: command, section: section, parentIndex: parentIndex, xml: xml)
                live = d
            }
            if f.contains(.config) {
                var d = obj.persistentDef
                try d.update(command: command, section: section, parentIndex: parentIndex, xml: xml)
                config = d
            }
            if let config {
                if obj.active { c.objects[i].newDef = config } else { c.objects[i].def = config }
            }
            if let live { c.objects[i].def = live }
        }
    }
}
