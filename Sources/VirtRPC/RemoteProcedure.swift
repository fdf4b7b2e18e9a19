/// Procedure numbers of the remote program (`remote_procedure` in remote_protocol.x) that SwiftVirt
/// implements or sends. Any other number is answered with NO_SUPPORT.
public enum RemoteProcedure: Int32, Sendable, CaseIterable {
    case connectOpen = 1
    case connectClose = 2
    case connectGetType = 3
    case connectGetVersion = 4
    case connectGetMaxVcpus = 5
    case nodeGetInfo = 6
    case connectGetCapabilities = 7
    case domainCreate = 9
    case domainCreateXML = 10
    case domainDefineXML = 11
    case domainDestroy = 12
    case domainGetXMLDesc = 14
    case domainGetAutostart = 15
    case domainGetInfo = 16
    case domainGetMaxMemory = 17
    case domainGetOSType = 19
    case connectListDefinedDomains = 21
    case domainLookupByID = 22
    case domainLookupByName = 23
    case domainLookupByUUID = 24
    case connectNumOfDefinedDomains = 25
    case domainReboot = 27
    case domainResume = 28
    case domainSetAutostart = 29
    case domainSetMemory = 31
    case domainShutdown = 33
    case domainSuspend = 34
    case domainUndefine = 35
    case connectListDomains = 37
    case connectNumOfDomains = 51
    case domainRestore = 54
    case domainSave = 55
    case connectGetHostname = 59
    case connectSupportsFeature = 60
    case authList = 66
    case authPolkit = 70
    case nodeGetFreeMemory = 102
    case connectDomainEventRegister = 105
    case connectDomainEventDeregister = 106
    case domainEventLifecycle = 107
    case connectGetURI = 110
    case domainGetSecurityLabel = 121
    case nodeGetSecurityModel = 122
    case connectIsSecure = 149
    case domainIsActive = 150
    case domainIsPersistent = 151
    case connectGetLibVersion = 157
    case connectDomainEventRegisterAny = 167
    case connectDomainEventDeregisterAny = 168
    case domainEventReboot = 169
    case domainManagedSave = 182
    case domainHasManagedSaveImage = 183
    case domainManagedSaveRemove = 184
    case domainSnapshotNum = 187
    case domainCreateWithFlags = 196
    case domainSetVcpusFlags = 199
    case domainGetVcpusFlags = 200
    case domainOpenConsole = 201
    case domainIsUpdated = 202
    case domainSetMemoryFlags = 204
    case domainGetState = 212
    case domainUndefineFlags = 231
    case domainSaveFlags = 232
    case domainRestoreFlags = 233
    case domainDestroyFlags = 234
    case domainReset = 245
    case domainShutdownFlags = 258
    case connectListAllDomains = 273
    case domainEventBalloonChange = 276
    case domainEventDeviceRemoved = 311
    case connectDomainEventCallbackRegisterAny = 316
    case connectDomainEventCallbackDeregisterAny = 317
    case domainEventCallbackLifecycle = 318
    case domainEventCallbackReboot = 319
    case domainEventCallbackBalloonChange = 331
    case domainEventCallbackDeviceRemoved = 333
    case domainEventCallbackAgentLifecycle = 348
    case connectGetDomainCapabilities = 342
    case connectGetAllDomainStats = 344
    case domainDefineXMLFlags = 350
    case domainEventCallbackDeviceAdded = 354
    case connectRegisterCloseCallback = 360
    case connectUnregisterCloseCallback = 361
    case connectEventConnectionClosed = 362
    case domainGetMessages = 426
    case domainSaveParams = 440
    case domainRestoreParams = 441

    /// True for procedures that change state: refused on the read-only socket, as libvirtd's ACLs do.
    public var isMutating: Bool {
        switch self {
        case .domainCreate, .domainCreateXML, .domainDefineXML, .domainDestroy, .domainReboot, .domainResume,
             .domainSetAutostart, .domainSetMemory, .domainShutdown, .domainSuspend, .domainUndefine,
             .domainRestore, .domainSave, .domainManagedSave, .domainManagedSaveRemove, .domainCreateWithFlags,
             .domainSetVcpusFlags, .domainSetMemoryFlags, .domainUndefineFlags, .domainSaveFlags,
             .domainRestoreFlags, .domainDestroyFlags, .domainReset, .domainShutdownFlags, .domainDefineXMLFlags,
             .domainSaveParams, .domainRestoreParams, .connectGetDomainCapabilities:
            return true
        default:
            return false
        }
    }
}

/// `virDrvFeature` values that clients ask about with CONNECT_SUPPORTS_FEATURE.
public enum DriverFeature: Int32, Sendable {
    case migrationV1 = 1, remote, migrationV2, migrationP2P, migrationDirect, migrationV3, migrateChangeProtection
    case fdPassing = 8, typedParamString, programKeepalive, xmlMigratable, migrationOffline, migrationParams
    case remoteEventCallback = 14, remoteCloseCallback, networkUpdateHasCorrectOrder
}
