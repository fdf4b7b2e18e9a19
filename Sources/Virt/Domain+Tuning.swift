import VirtCore

/// Resource control: libvirt's scheduler, memory and block I/O parameters (the domain's cgroup tunables).
extension Domain {
    /// `virDomainGetSchedulerType`: the scheduler's name and the number of its parameters.
    public func schedulerType() async throws -> (type: String, nparams: Int32) {
        try await connection.driver.schedulerType(ref)
    }

    /// `virDomainGetSchedulerParametersFlags`; nil flags: `virDomainGetSchedulerParameters`.
    public func schedulerParameters(nparams: Int32, flags: ModificationImpact?) async throws -> [TypedParam] {
        // As libvirt's client library: string parameters are understood (VIR_TYPED_PARAM_STRING_OKAY).
        try await connection.driver.schedulerParameters(ref, nparams: nparams, flags: flags.map { $0.rawValue | 4 })
    }

    /// `virDomainSetSchedulerParametersFlags`; nil flags: `virDomainSetSchedulerParameters`.
    public func setSchedulerParameters(_ params: [TypedParam], flags: ModificationImpact?) async throws {
        try await connection.driver.setSchedulerParameters(ref, params: params, flags: flags?.rawValue)
    }

    /// `virDomainGetNumaParameters` with libvirt's two-call protocol (nparams 0: the count).
    public func numaParameters(nparams: Int32, flags: ModificationImpact = .current) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try await connection.driver.numaParameters(ref, nparams: nparams, flags: flags.rawValue | 4)
    }

    /// `virDomainSetNumaParameters`.
    public func setNumaParameters(_ params: [TypedParam], flags: ModificationImpact = .current) async throws {
        try await connection.driver.setNumaParameters(ref, params: params, flags: flags.rawValue)
    }

    /// `virDomainSetLifecycleAction`: `type` 0 power-off, 1 reboot, 2 crash; `action` a `virDomainLifecycleAction`.
    public func setLifecycleAction(type: UInt32, action: UInt32, flags: ModificationImpact = .current) async throws {
        try await connection.driver.setLifecycleAction(ref, type: type, action: action, flags: flags.rawValue)
    }

    /// `virDomainGetPerfEvents`.
    public func perfEvents(flags: ModificationImpact = .current) async throws -> [TypedParam] {
        try await connection.driver.perfEvents(ref, flags: flags.rawValue | 4)
    }

    /// `virDomainSetPerfEvents`.
    public func setPerfEvents(_ params: [TypedParam], flags: ModificationImpact = .current) async throws {
        try await connection.driver.setPerfEvents(ref, params: params, flags: flags.rawValue)
    }

    /// `virDomainGetMemoryParameters` with libvirt's two-call protocol (nparams 0: the count).
    public func memoryParameters(nparams: Int32, flags: ModificationImpact = .current) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try await connection.driver.memoryParameters(ref, nparams: nparams, flags: flags.rawValue | 4)
    }

    /// `virDomainSetMemoryParameters` (values in KiB).
    public func setMemoryParameters(_ params: [TypedParam], flags: ModificationImpact = .current) async throws {
        try await connection.driver.setMemoryParameters(ref, params: params, flags: flags.rawValue)
    }

    /// `virDomainGetBlkioParameters` with libvirt's two-call protocol.
    public func blkioParameters(nparams: Int32, flags: ModificationImpact = .current) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try await connection.driver.blkioParameters(ref, nparams: nparams, flags: flags.rawValue | 4)
    }

    /// `virDomainSetBlkioParameters`.
    public func setBlkioParameters(_ params: [TypedParam], flags: ModificationImpact = .current) async throws {
        try await connection.driver.setBlkioParameters(ref, params: params, flags: flags.rawValue)
    }

    /// `virDomainGetInterfaceParameters` (an interface's bandwidth; `device` is its MAC or host device name),
    /// with libvirt's two-call protocol.
    public func interfaceParameters(device: String, nparams: Int32, flags: ModificationImpact = .current) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try await connection.driver.interfaceParameters(ref, device: device, nparams: nparams, flags: flags.rawValue | 4)
    }

    /// `virDomainSetInterfaceParameters`.
    public func setInterfaceParameters(device: String, _ params: [TypedParam], flags: ModificationImpact = .current)
        async throws {
        try await connection.driver.setInterfaceParameters(ref, device: device, params: params, flags: flags.rawValue)
    }
}

/// The queries pass through, the changes are refused on a read-only connection.
extension ReadOnlyDriver {
    public func schedulerType(_ domain: DomainRef) async throws -> (type: String, nparams: Int32) {
        try await base.schedulerType(domain)
    }
    public func schedulerParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32?) async throws -> [TypedParam] {
        try await base.schedulerParameters(domain, nparams: nparams, flags: flags)
    }
    public func setSchedulerParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32?) async throws {
        throw Self.denied(flags == nil ? "virDomainSetSchedulerParameters" : "virDomainSetSchedulerParametersFlags")
    }
    public func memoryParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try await base.memoryParameters(domain, nparams: nparams, flags: flags)
    }
    public func setMemoryParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        throw Self.denied("virDomainSetMemoryParameters")
    }
    public func blkioParameters(_ domain: DomainRef, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try await base.blkioParameters(domain, nparams: nparams, flags: flags)
    }
    public func setBlkioParameters(_ domain: DomainRef, params: [TypedParam], flags: UInt32) async throws {
        throw Self.denied("virDomainSetBlkioParameters")
    }
    public func interfaceParameters(_ domain: DomainRef, device: String, nparams: Int32, flags: UInt32) async throws
        -> (params: [TypedParam], nparams: Int32) {
        try await base.interfaceParameters(domain, device: device, nparams: nparams, flags: flags)
    }
    public func setInterfaceParameters(_ domain: DomainRef, device: String, params: [TypedParam], flags: UInt32)
        async throws {
        throw Self.denied("virDomainSetInterfaceParameters")
    }
}
