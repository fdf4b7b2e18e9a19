import VirtCore

/// One domain of the test driver: the mirror of libvirt's `virDomainObj`.
///
/// `definition` is the current definition (the live one while running); `newDefinition` holds the persistent
/// configuration while a persistent domain runs (libvirt's `newDef`). `id` is -1 while inactive.
///
/// The definitions are boxed: a `DomainDefinition` is about 1.4 KB inline, and the domain table's hash
/// buckets would otherwise hold two of them for every bucket (a thousand domains took over 10 KB each).
/// Boxed, an object is a few dozen bytes and copying it while listing is a handful of retains.
struct TestDomainObject: Sendable {
    /// An immutable definition on the heap; a change stores a new box.
    private final class Box: Sendable {
        let value: DomainDefinition
        init(_ value: DomainDefinition) { self.value = value }
    }

    private var definitionBox: Box
    private var newDefinitionBox: Box?

    /// The current definition (the live one while running).
    var definition: DomainDefinition {
        // Read in place: formatting or reading one field does not copy the whole definition out of its box.
        _read { yield definitionBox.value }
        set { definitionBox = Box(newValue) }
    }

    /// The persistent definition while a persistent domain runs.
    var newDefinition: DomainDefinition? {
        get { newDefinitionBox?.value }
        set { newDefinitionBox = newValue.map(Box.init) }
    }

    var id: Int32 = -1
    var status: DomainStatus = .shutoff(.unknown)
    var persistent: Bool = false
    var autostart: Bool = false
    var hasManagedSave: Bool = false
    /// The guest's clock as libvirt's test driver keeps it (`priv->seconds`, `priv->nseconds`): a fixed start,
    /// changed by virDomainSetTime; it also decides what virDomainGetControlInfo reports.
    var guestSeconds: Int64 = 627_319_920
    var guestNanoseconds: UInt32 = 0
    /// The IOThreads the driver reports statistics for (libvirt fills these for domains of a node file and
    /// appends one on every virDomainAddIOThread; virDomainSetIOThreadParams changes their polling values).
    var iothreadIDs: [TestIOThreadStats] = []
    /// Taints and deprecation messages (`virDomainGetMessages`); the driver sets them for node file domains.
    var taints: Set<TestTaint> = []
    var deprecations: [String] = []
    /// The domain's snapshots and checkpoints (TestSnapshots.swift).
    var snapshots = SnapshotTree()
    var checkpoints = CheckpointTree()

    init(definition: DomainDefinition) {
        definitionBox = Box(definition)
    }

    var name: String { definitionBox.value.name }
    var uuid: VirtUUID { definitionBox.value.uuid }

    /// libvirt's `virDomainObjIsActive`: a domain is active while it has an id.
    var isActive: Bool { id != -1 }

    /// The reference handed to callers and carried by events.
    var ref: DomainRef { DomainRef(name: definitionBox.value.name, uuid: definitionBox.value.uuid, id: id) }

    /// libvirt's `virDomainObjAssignDef`. Returns the replaced persistent definition, if any.
    mutating func assign(_ def: DomainDefinition, live: Bool) -> DomainDefinition? {
        if isActive {
            let old = newDefinition
            newDefinition = def
            return old
        }
        if live {
            if newDefinitionBox == nil { newDefinitionBox = definitionBox }
            definition = def
            return nil
        }
        let old = definition
        definition = def
        return old
    }

    /// libvirt's `virDomainObjSetDefTransient`: keeps a copy of the persistent config while running.
    mutating func setDefTransient() {
        guard persistent, newDefinitionBox == nil else { return }
        newDefinitionBox = definitionBox
    }

    /// libvirt's `virDomainObjRemoveTransientDef`: on stop, the persistent config becomes current again. A
    /// transient domain keeps its definition and its id (it is removed right after), as libvirt does.
    mutating func removeTransientDef() {
        guard let persistentDef = newDefinitionBox else { return }
        definitionBox = persistentDef
        newDefinitionBox = nil
        id = -1
    }
}

/// One IOThread of libvirt's test driver statistics (`testIOThreadInfo`): its id and polling values.
struct TestIOThreadStats: Sendable, Hashable {
    var id: UInt32
    var pollMaxNs: UInt64 = 32768
    var pollGrow: UInt32 = 0
    var pollShrink: UInt32 = 0
}
