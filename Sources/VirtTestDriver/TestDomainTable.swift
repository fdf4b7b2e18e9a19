import VirtCore

/// The domains of one test hypervisor, indexed by UUID, name and id (all lookups O(1)), with libvirt's
/// `virDomainObjList` rules for adding definitions.
struct TestDomainTable: Sendable {
    private(set) var domains: [VirtUUID: TestDomainObject] = [:]
    private(set) var byName: [String: VirtUUID] = [:]
    private(set) var byID: [Int32: VirtUUID] = [:]
    private var nextID: Int32 = 1

    func object(_ ref: DomainRef) throws(VirtError) -> TestDomainObject {
        guard let obj = domains[ref.uuid] else {
            throw VirtError(.noDomain, domain: .test,
                            "Domain not found: no domain with matching uuid '\(ref.uuid)' (\(ref.name))",
                            str1: "no domain with matching uuid '\(ref.uuid)' (\(ref.name))")
        }
        return obj
    }

    /// Saves `obj` back, keeping the id index in step.
    mutating func store(_ obj: TestDomainObject) {
        if let old = domains[obj.uuid], old.id != obj.id, old.id != -1, byID[old.id] == obj.uuid {
            byID.removeValue(forKey: old.id)
        }
        if obj.id != -1 { byID[obj.id] = obj.uuid }
        domains[obj.uuid] = obj
    }

    mutating func remove(_ obj: TestDomainObject) {
        if let old = domains.removeValue(forKey: obj.uuid) {
            if old.id != -1, byID[old.id] == old.uuid { byID.removeValue(forKey: old.id) }
            if obj.id != -1, byID[obj.id] == obj.uuid { byID.removeValue(forKey: obj.id) }
            if byName[old.name] == old.uuid { byName.removeValue(forKey: old.name) }
        }
    }

    /// libvirt's `virDomainObjListRename`: the new name must differ and be free; `obj` takes it in both of its
    /// definitions and is stored.
    mutating func rename(_ obj: inout TestDomainObject, to newName: String) throws(VirtError) {
        if obj.name == newName {
            throw VirtError.operationInvalid("Can't rename domain to itself", domain: .domain)
        }
        if byName[newName] != nil {
            throw VirtError.operationInvalid("domain with name '\(newName)' already exists", domain: .domain)
        }
        if byName[obj.name] == obj.uuid { byName.removeValue(forKey: obj.name) }
        obj.definition.name = newName
        if var persistent = obj.newDefinition {
            persistent.name = newName
            obj.newDefinition = persistent
        }
        byName[newName] = obj.uuid
        store(obj)
    }

    /// libvirt's `virDomainObjListAdd`: finds or creates the object for `def` and assigns it. With `checkLive`,
    /// an active domain of the same UUID is refused. Returns the object (not yet stored) and the replaced
    /// persistent definition.
    mutating func addObject(_ def: DomainDefinition, live: Bool, checkLive: Bool = false) throws(VirtError)
        -> (obj: TestDomainObject, oldDef: DomainDefinition?) {
        if var obj = domains[def.uuid] {
            if obj.name != def.name {
                throw VirtError.operationFailed(
                    "domain '\(obj.name)' is already defined with uuid \(obj.uuid)", domain: .domain)
            }
            if checkLive {
                if obj.isActive {
                    throw VirtError.operationInvalid("domain '\(obj.name)' is already active", domain: .domain)
                }
                if !obj.persistent {
                    throw VirtError.operationInvalid("domain '\(obj.name)' is already being started",
                                                     domain: .domain)
                }
            }
            let old = obj.assign(def, live: live)
            return (obj, old)
        }
        if let other = byName[def.name] {
            throw VirtError.operationFailed("domain '\(def.name)' already exists with uuid \(other)",
                                            domain: .domain)
        }
        byName[def.name] = def.uuid
        return (TestDomainObject(definition: def), nil)
    }

    /// libvirt's `testDomainStartState`.
    mutating func startState(_ obj: inout TestDomainObject, reason: RunningReason) {
        obj.status = .running(reason)
        obj.id = nextID
        nextID += 1
        obj.setDefTransient()
        obj.hasManagedSave = false
    }

    /// libvirt's `testDomainShutdownState`.
    func shutdownState(_ obj: inout TestDomainObject, reason: ShutoffReason) {
        obj.removeTransientDef()
        obj.status = .shutoff(reason)
    }

    /// Adds a domain read from a node description, in its run state (reason 0, as libvirt).
    mutating func load(_ nd: NodeDomain) throws(VirtError) {
        var obj = try addObject(nd.definition, live: false).obj
        obj.persistent = !nd.transient
        obj.hasManagedSave = nd.hasManagedSave
        if nd.runState != .shutoff {
            startState(&obj, reason: .booted)
        }
        obj.status = DomainStatus(nd.runState, reason: 0)
        if let n = obj.definition.iothreads, n > 0 { obj.iothreadIDs = (1...n).map { TestIOThreadStats(id: $0) } }
        (obj.taints, obj.deprecations) = TestTaint.check(obj.definition)
        store(obj)
    }

    /// Stores a stopped domain (forgetting it when transient); `before` is the object as it was while running.
    mutating func finishStop(_ obj: TestDomainObject, before: TestDomainObject) {
        if before.id != -1, byID[before.id] == before.uuid { byID.removeValue(forKey: before.id) }
        if obj.persistent {
            store(obj)
        } else {
            remove(obj)
        }
    }

    /// The object for `uuid`, if any.
    subscript(uuid: VirtUUID) -> TestDomainObject? { domains[uuid] }
}
