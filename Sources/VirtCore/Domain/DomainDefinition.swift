/// A domain definition: the typed value model of libvirt's domain XML.
///
/// Parse with ``DomainDefinition/parse(_:options:)``; format with ``DomainDefinition/formatXML(_:)``, which
/// writes exactly what libvirt's `dumpxml` writes for the same definition (element order, single quotes,
/// two-space indent, self-closing empty elements, libvirt's escaping, sizes normalised to KiB).
///
/// Parsing applies libvirt's generic post-parse rules (currentMemory defaults to memory, a hvm guest without
/// boot order boots from `hd`, …). Driver-specific defaults are applied separately, e.g.
/// ``DomainDefinition/applyDefaults(for:)`` with `.test` for the test driver.
public struct DomainDefinition: Sendable, Hashable {
    /// `<domain type='…'>`: kvm, qemu, test, …
    public var type: String
    public var name: String
    public var uuid: VirtUUID
    /// `<genid>`: the VM generation id, if any.
    public var genid: VirtUUID?
    public var title: String?
    public var description: String?
    /// `<metadata>`, kept verbatim (namespaced application data).
    public var metadata: XMLElement?
    /// `<maxMemory slots='…'>` in KiB, for memory hotplug.
    public var maxMemory: MaxMemory?
    /// `<memory>` in KiB.
    public var memory: UInt64
    /// `<memory dumpCore='on|off'>`.
    public var memoryDumpCore: Bool?
    /// `<currentMemory>` in KiB.
    public var currentMemory: UInt64
    /// `<vcpu>`: the maximum number of vCPUs.
    public var vcpus: UInt32
    /// `<vcpu current='…'>`, when fewer than `vcpus` are online.
    public var currentVcpus: UInt32?
    /// `<vcpu placement='static|auto'>`.
    public var vcpuPlacement: VCPUPlacement = .static
    /// `<vcpu cpuset='…'>`: host CPUs the vCPUs may run on.
    public var vcpuCPUSet: CPUSet?
    /// `<vcpus>`: each vCPU's state as stored (see ``vcpuStates``, which reconciles it with the counts).
    public var storedVcpuStates: [DomainVcpu] = []
    /// Whether `<vcpus>` is written (libvirt's `individualvcpus`): given in the XML, or set by `setvcpu`
    /// or a vCPU hotplug.
    public var individualVcpus = false
    /// `<iothreads>`.
    public var iothreads: UInt32?
    /// `<bootloader>` and `<bootloader_args>` (Xen-style host boot loaders).
    public var bootloader: String?
    public var bootloaderArgs: String?
    public var os: OSConfig
    public var features: DomainFeatures = DomainFeatures()
    public var cpu: CPUDefinition?
    public var clock: ClockConfig = ClockConfig()
    public var onPoweroff: LifecycleAction = .destroy
    public var onReboot: LifecycleAction = .restart
    public var onCrash: CrashAction = .destroy
    public var onLockfailure: LockFailureAction?
    public var pm: PowerManagement?
    public var devices: DomainDevices
    /// Top-level elements libvirt knows but this model does not type (blkiotune, memtune, memoryBacking,
    /// vcpus, iothreadids, cputune, numatune, resource, sysinfo, idmap, perf, seclabel, keywrap,
    /// launchSecurity): kept and written back, in libvirt's canonical formatting, at libvirt's position.
    public var extraElements: [XMLElement] = []
    /// IOThread ids libvirt filled in itself (its `autofill`): from a bare `<iothreads>N</iothreads>` or the ids
    /// `<iothreadids>` left out. While every id is one of these, numbered 1…N, with no thread pool set,
    /// `<iothreadids>` is not written.
    public var iothreadAutofill: Set<UInt32> = []
    /// Hypervisor namespace declarations on `<domain>` (e.g. `qemu` → its schema URI).
    public var namespaces: [(prefix: String, href: String)] = []
    /// Hypervisor namespace elements (`<qemu:commandline>` …), written last.
    public var namespaceElements: [XMLElement] = []

    public init(type: String, name: String, uuid: VirtUUID = .random(), memory: UInt64, currentMemory: UInt64? = nil,
                vcpus: UInt32 = 1, os: OSConfig = OSConfig(type: "hvm"), devices: DomainDevices = DomainDevices()) {
        self.type = type
        self.name = name
        self.uuid = uuid
        self.memory = memory
        self.currentMemory = currentMemory ?? memory
        self.vcpus = vcpus
        self.os = os
        self.devices = devices
    }

    public static func == (a: DomainDefinition, b: DomainDefinition) -> Bool {
        a.formatXML(DomainFormatOptions(secure: true)) == b.formatXML(DomainFormatOptions(secure: true))
    }

    public func hash(into h: inout Hasher) {
        h.combine(uuid)
        h.combine(name)
    }

    /// `<vcpu placement>`.
    public enum VCPUPlacement: String, Sendable, Hashable {
        case `static`
        case auto
    }

    /// `<maxMemory slots='N' unit='KiB'>SIZE</maxMemory>`.
    public struct MaxMemory: Sendable, Hashable {
        /// KiB.
        public var size: UInt64
        public var slots: UInt32
        public init(size: UInt64, slots: UInt32) {
            self.size = size
            self.slots = slots
        }
    }

    /// libvirt's order of the top-level elements of `<domain>`.
    static let elementOrder: [String] = [
        "name", "uuid", "genid", "title", "description", "metadata", "maxMemory", "memory", "currentMemory",
        "blkiotune", "memtune", "memoryBacking", "vcpu", "vcpus", "iothreads", "iothreadids", "defaultiothread",
        "cputune", "numatune", "resource", "sysinfo", "bootloader", "bootloader_args", "os", "idmap", "features",
        "cpu", "clock", "on_poweroff", "on_reboot", "on_crash", "on_lockfailure", "pm", "perf", "devices",
        "seclabel", "keywrap", "launchSecurity",
    ]

    /// Known top-level elements this model keeps as elements rather than typed values.
    static let extraElementNames: Set<String> = [
        "blkiotune", "memtune", "memoryBacking", "iothreadids", "defaultiothread", "cputune", "numatune",
        "resource", "sysinfo", "idmap", "perf", "seclabel", "keywrap", "launchSecurity",
    ]
}

/// `<os>` is ``OSConfig``; see DomainOS.swift.

/// Options for parsing domain XML.
public struct DomainParseOptions: Sendable, Hashable {
    /// Reject unknown elements and attributes (`define --validate`).
    public var validate: Bool = false
    /// Parse live-only data (ids, aliases) as in status XML.
    public var live: Bool = false
    /// libvirt's `VIR_DOMAIN_DEF_PARSE_ABI_UPDATE` (a hypervisor driver's define and create): with NUMA cells the
    /// total memory becomes theirs plus the memory devices', whatever `<memory>` says.
    public var abiUpdate: Bool = false
    /// The QEMU driver's checks of `<vcpus>` (libvirt's qemuDomainDefVcpusPostParse), run on the vCPUs as
    /// written, before the generic defaults.
    public var qemuVcpuRules: Bool = false
    public init(validate: Bool = false, live: Bool = false, abiUpdate: Bool = false, qemuVcpuRules: Bool = false) {
        self.validate = validate
        self.live = live
        self.abiUpdate = abiUpdate
        self.qemuVcpuRules = qemuVcpuRules
    }
}

/// Options for formatting domain XML.
public struct DomainFormatOptions: Sendable, Hashable {
    /// Include security-sensitive data (passwords): `--security-info`.
    public var secure: Bool = false
    /// Format the inactive (persistent) definition: no id, no live-only data.
    public var inactive: Bool = true
    /// The running domain's id, written as `<domain … id='N'>` when formatting live XML.
    public var id: Int32? = nil
    /// With `inactive`: keep what QEMU assigned (device aliases, disk source indexes), as libvirt's inactive XML
    /// of a running transient domain (its only definition is the live one) keeps them.
    public var runtimeDetails: Bool = false
    public init(secure: Bool = false, inactive: Bool = true, id: Int32? = nil, runtimeDetails: Bool = false) {
        self.secure = secure
        self.inactive = inactive
        self.id = id
        self.runtimeDetails = runtimeDetails
    }
}
