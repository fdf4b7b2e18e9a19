import VirtCore

/// One domain of the test driver: the mirror of libvirt's `virDomainObj`.
///
/// `definition` is the current definition (the live one while running); `newDefinition` holds the persistent
/// configuration while a persistent domain runs (libvirt's `newDef`). `id` is -1 while inactive.
struct TestDomainObject: Sendable {
    var definition: DomainDefinition
    var newDefinition: DomainDefinition?
    var id: Int32 = -1
    var status: DomainStatus = .shutoff(.unknown)
    var persistent: Bool = false
    var autostart: Bool = false
    var hasManagedSave: Bool = false
    /// The IOThreads the driver reports statistics for (libvirt fills these only for domains of a node file).
    var iothreadIDs: [UInt32] = []
    /// Taints and deprecation messages (`virDomainGetMessages`); the driver sets them for node file domains.
    var taints: Set<TestTaint> = []
    var deprecations: [String] = []

    init(definition: DomainDefinition) {
        self.definition = definition
    }

    var name: String { definition.name }
    var uuid: VirtUUID { definition.uuid }

    /// libvirt's `virDomainObjIsActive`: a domain is active while it has an id.
    var isActive: Bool { id != -1 }

    /// The reference handed to callers and carried by events.
    var ref: DomainRef { DomainRef(name: definition.name, uuid: definition.uuid, id: id) }

    /// libvirt's `virDomainObjAssignDef`. Returns the replaced persistent definition, if any.
    mutating func assign(_ def: DomainDefinition, live: Bool) -> DomainDefinition? {
        if isActive {
            let old = newDefinition
            newDefinition = def
            return old
        }
        if live {
            if newDefinition == nil { newDefinition = definition }
            definition = def
            return nil
        }
        let old = definition
        definition = def
        return old
    }

    /// libvirt's `virDomainObjSetDefTransient`: keeps a copy of the persistent config while running.
    mutating func setDefTransient() {
        guard persistent, newDefinition == nil else { return }
        newDefinition = definition
    }

    /// libvirt's `virDomainObjRemoveTransientDef`: on stop, the persistent config becomes current again. A
    /// transient domain keeps its definition and its id (it is removed right after), as libvirt does.
    mutating func removeTransientDef() {
        guard let persistentDef = newDefinition else { return }
        definition = persistentDef
        newDefinition = nil
        id = -1
    }
}
