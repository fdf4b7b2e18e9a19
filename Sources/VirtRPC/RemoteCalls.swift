import VirtCore

/// Argument and result types of the procedures SwiftVirt serves and sends, one declaration each
/// (rpcgen's `remote_*_args` / `remote_*_ret` of remote_protocol.x, as Swift types). Server rows
/// (ProcedureTable) and the remote driver both use these, so the two ends cannot disagree.
public enum RemoteCalls {
    typealias D = DomainRef
    typealias Flags = UInt32

    // MARK: Handshake (before CONNECT_OPEN)
    static let connectOpen = RemoteCall<XDRTuple2<String?, Flags>, XDRVoid>(.connectOpen)
    static let connectClose = RemoteCall<XDRVoid, XDRVoid>(.connectClose)
    static let authList = RemoteCall<XDRVoid, XDRList<Int32, AuthListLimit>>(.authList)
    static let authPolkit = RemoteCall<XDRVoid, Int32>(.authPolkit)
    static let connectSupportsFeature = RemoteCall<Int32, Int32>(.connectSupportsFeature)

    // MARK: Host
    static let connectGetType = RemoteCall<XDRVoid, String>(.connectGetType)
    static let connectGetVersion = RemoteCall<XDRVoid, UInt64>(.connectGetVersion)
    static let connectGetLibVersion = RemoteCall<XDRVoid, UInt64>(.connectGetLibVersion)
    static let connectGetHostname = RemoteCall<XDRVoid, String>(.connectGetHostname)
    static let connectGetURI = RemoteCall<XDRVoid, String>(.connectGetURI)
    static let connectGetCapabilities = RemoteCall<XDRVoid, String>(.connectGetCapabilities)
    /// emulatorbin, arch, machine, virttype, flags.
    static let connectGetDomainCapabilities =
        RemoteCall<XDRTuple5<String?, String?, String?, String?, Flags>, String>(.connectGetDomainCapabilities)
    static let connectGetMaxVcpus = RemoteCall<String?, Int32>(.connectGetMaxVcpus)
    static let nodeGetInfo = RemoteCall<XDRVoid, NodeInfo>(.nodeGetInfo)
    static let nodeGetFreeMemory = RemoteCall<XDRVoid, UInt64>(.nodeGetFreeMemory)

    // MARK: Host statistics
    /// cpuNum, nparams, flags → params, nparams.
    static let nodeGetCPUStats = RemoteCall<XDRTuple3<Int32, Int32, Flags>, NodeStatsResult>(.nodeGetCPUStats)
    /// nparams, cellNum, flags → params, nparams.
    static let nodeGetMemoryStats = RemoteCall<XDRTuple3<Int32, Int32, Flags>, NodeStatsResult>(.nodeGetMemoryStats)
    /// startCell, maxcells → cells.
    static let nodeGetCellsFreeMemory =
        RemoteCall<XDRTuple2<Int32, Int32>, XDRList<UInt64, NodeCellsLimit>>(.nodeGetCellsFreeMemory)
    /// need_map, need_online, flags → cpumap, online, ret.
    static let nodeGetCPUMap = RemoteCall<XDRTuple3<Int32, Int32, Flags>, NodeCPUMap>(.nodeGetCPUMap)
    static let connectGetSysinfo = RemoteCall<Flags, String>(.connectGetSysinfo)
    /// nparams, flags → params, nparams.
    static let nodeGetMemoryParameters = RemoteCall<XDRTuple2<Int32, Flags>,
        XDRTuple2<TypedParamList<NodeMemoryParametersLimit>, Int32>>(.nodeGetMemoryParameters)
    /// arch, need_results, flags → models, ret.
    static let connectGetCPUModelNames = RemoteCall<XDRTuple3<String, Int32, Flags>,
        XDRTuple2<XDRList<String, CPUModelsLimit>, Int32>>(.connectGetCPUModelNames)
    static let connectIsSecure = RemoteCall<XDRVoid, Int32>(.connectIsSecure)
    /// xml, flags → result.
    static let connectCompareCPU = RemoteCall<XDRTuple2<String, Flags>, Int32>(.connectCompareCPU)
    /// xmlCPUs, flags → cpu.
    static let connectBaselineCPU =
        RemoteCall<XDRTuple2<XDRList<String, CPUBaselineLimit>, Flags>, String>(.connectBaselineCPU)
    /// emulator, arch, machine, virttype, then xmlCPU, flags → result.
    static let connectCompareHypervisorCPU = RemoteCall<XDRTuple2<XDRTuple4<String?, String?, String?, String?>,
        XDRTuple2<String, Flags>>, Int32>(.connectCompareHypervisorCPU)
    /// emulator, arch, machine, virttype, then xmlCPUs, flags → cpu.
    static let connectBaselineHypervisorCPU = RemoteCall<XDRTuple2<XDRTuple4<String?, String?, String?, String?>,
        XDRTuple2<XDRList<String, CPUBaselineLimit>, Flags>>, String>(.connectBaselineHypervisorCPU)
    static let nodeGetSecurityModel = RemoteCall<XDRVoid, SecurityModel>(.nodeGetSecurityModel)
    static let connectRegisterCloseCallback = RemoteCall<XDRVoid, XDRVoid>(.connectRegisterCloseCallback)
    static let connectUnregisterCloseCallback = RemoteCall<XDRVoid, XDRVoid>(.connectUnregisterCloseCallback)

    // MARK: Listing and lookup
    /// need_results, flags → domains, ret.
    static let connectListAllDomains = RemoteCall<XDRTuple2<Int32, Flags>, XDRCountedList<DomainRef, DomainListLimit>>(.connectListAllDomains)
    static let connectListDomains = RemoteCall<Int32, XDRList<Int32, NameListLimit>>(.connectListDomains)
    static let connectListDefinedDomains = RemoteCall<Int32, XDRList<String, NameListLimit>>(.connectListDefinedDomains)
    static let connectNumOfDomains = RemoteCall<XDRVoid, Int32>(.connectNumOfDomains)
    static let connectNumOfDefinedDomains = RemoteCall<XDRVoid, Int32>(.connectNumOfDefinedDomains)
    static let domainLookupByID = RemoteCall<Int32, D>(.domainLookupByID)
    static let domainLookupByName = RemoteCall<String, D>(.domainLookupByName)
    static let domainLookupByUUID = RemoteCall<VirtUUID, D>(.domainLookupByUUID)

    // MARK: Definition
    static let domainDefineXML = RemoteCall<String, D>(.domainDefineXML)
    static let domainDefineXMLFlags = RemoteCall<XDRTuple2<String, Flags>, D>(.domainDefineXMLFlags)
    static let domainUndefine = RemoteCall<D, XDRVoid>(.domainUndefine)
    static let domainUndefineFlags = RemoteCall<XDRTuple2<D, Flags>, XDRVoid>(.domainUndefineFlags)
    static let domainCreateXML = RemoteCall<XDRTuple2<String, Flags>, D>(.domainCreateXML)

    // MARK: Lifecycle
    static let domainCreate = RemoteCall<D, XDRVoid>(.domainCreate)
    static let domainCreateWithFlags = RemoteCall<XDRTuple2<D, Flags>, D>(.domainCreateWithFlags)
    static let domainDestroy = RemoteCall<D, XDRVoid>(.domainDestroy)
    static let domainDestroyFlags = RemoteCall<XDRTuple2<D, Flags>, XDRVoid>(.domainDestroyFlags)
    static let domainShutdown = RemoteCall<D, XDRVoid>(.domainShutdown)
    static let domainShutdownFlags = RemoteCall<XDRTuple2<D, Flags>, XDRVoid>(.domainShutdownFlags)
    static let domainReboot = RemoteCall<XDRTuple2<D, Flags>, XDRVoid>(.domainReboot)
    static let domainReset = RemoteCall<XDRTuple2<D, Flags>, XDRVoid>(.domainReset)
    static let domainSuspend = RemoteCall<D, XDRVoid>(.domainSuspend)
    static let domainResume = RemoteCall<D, XDRVoid>(.domainResume)
    static let domainSave = RemoteCall<XDRTuple2<D, String>, XDRVoid>(.domainSave)
    /// domain, to, dxml, flags.
    static let domainSaveFlags = RemoteCall<XDRTuple4<D, String, String?, Flags>, XDRVoid>(.domainSaveFlags)
    static let domainSaveParams =
        RemoteCall<XDRTuple3<D, TypedParamList<TypedParamsLimit>, Flags>, XDRVoid>(.domainSaveParams)
    static let domainRestore = RemoteCall<String, XDRVoid>(.domainRestore)
    /// from, dxml, flags.
    static let domainRestoreFlags = RemoteCall<XDRTuple3<String, String?, Flags>, XDRVoid>(.domainRestoreFlags)
    static let domainRestoreParams =
        RemoteCall<XDRTuple2<TypedParamList<TypedParamsLimit>, Flags>, XDRVoid>(.domainRestoreParams)
    static let domainManagedSave = RemoteCall<XDRTuple2<D, Flags>, XDRVoid>(.domainManagedSave)
    static let domainHasManagedSaveImage = RemoteCall<XDRTuple2<D, Flags>, Int32>(.domainHasManagedSaveImage)
    static let domainManagedSaveRemove = RemoteCall<XDRTuple2<D, Flags>, XDRVoid>(.domainManagedSaveRemove)

    // MARK: Properties
    static let domainGetAutostart = RemoteCall<D, Int32>(.domainGetAutostart)
    static let domainSetAutostart = RemoteCall<XDRTuple2<D, Int32>, XDRVoid>(.domainSetAutostart)
    static let domainGetInfo = RemoteCall<D, DomainInfo>(.domainGetInfo)
    static let domainGetState = RemoteCall<XDRTuple2<D, Flags>, DomainStatus>(.domainGetState)
    static let domainGetXMLDesc = RemoteCall<XDRTuple2<D, Flags>, String>(.domainGetXMLDesc)
    static let domainGetOSType = RemoteCall<D, String>(.domainGetOSType)
    static let domainIsActive = RemoteCall<D, Int32>(.domainIsActive)
    static let domainIsPersistent = RemoteCall<D, Int32>(.domainIsPersistent)
    static let domainIsUpdated = RemoteCall<D, Int32>(.domainIsUpdated)
    static let domainGetMaxMemory = RemoteCall<D, UInt64>(.domainGetMaxMemory)
    static let domainSetMaxMemory = RemoteCall<XDRTuple2<D, UInt64>, XDRVoid>(.domainSetMaxMemory)
    static let domainGetMaxVcpus = RemoteCall<D, Int32>(.domainGetMaxVcpus)
    static let domainSetMemory = RemoteCall<XDRTuple2<D, UInt64>, XDRVoid>(.domainSetMemory)
    static let domainSetMemoryFlags = RemoteCall<XDRTuple3<D, UInt64, Flags>, XDRVoid>(.domainSetMemoryFlags)
    static let domainGetVcpusFlags = RemoteCall<XDRTuple2<D, Flags>, Int32>(.domainGetVcpusFlags)
    /// domain, nvcpus, flags.
    static let domainSetVcpusFlags = RemoteCall<XDRTuple3<D, UInt32, Flags>, XDRVoid>(.domainSetVcpusFlags)
    static let domainGetSecurityLabel = RemoteCall<D, SecurityLabel>(.domainGetSecurityLabel)
    /// DOMAIN_GET_SECURITY_LABEL_LIST: domain → labels (REMOTE_SECURITY_LABEL_LIST_MAX) and their count.
    static let domainGetSecurityLabelList =
        RemoteCall<D, XDRTuple2<XDRList<SecurityLabel, SecurityLabelListLimit>, Int32>>(.domainGetSecurityLabelList)
    static let domainGetMessages = RemoteCall<XDRTuple2<D, Flags>, XDRList<String, MessageListLimit>>(.domainGetMessages)
    /// doms, stats, flags → records.
    static let connectGetAllDomainStats =
        RemoteCall<XDRTuple3<XDRList<D, DomainListLimit>, Flags, Flags>, XDRList<DomainStatsRecord, StatsRecordLimit>>(
            .connectGetAllDomainStats)

    // MARK: Save images
    /// file, flags → xml.
    static let domainSaveImageGetXMLDesc = RemoteCall<XDRTuple2<String, Flags>, String>(.domainSaveImageGetXMLDesc)
    /// file, dxml, flags.
    static let domainSaveImageDefineXML =
        RemoteCall<XDRTuple3<String, String, Flags>, XDRVoid>(.domainSaveImageDefineXML)
    static let domainManagedSaveGetXMLDesc = RemoteCall<XDRTuple2<D, Flags>, String>(.domainManagedSaveGetXMLDesc)
    /// dom, dxml, flags.
    static let domainManagedSaveDefineXML =
        RemoteCall<XDRTuple3<D, String?, Flags>, XDRVoid>(.domainManagedSaveDefineXML)

    // MARK: Jobs
    static let domainGetJobInfo = RemoteCall<D, JobInfoResult>(.domainGetJobInfo)
    /// domain, flags → type, params.
    static let domainGetJobStats =
        RemoteCall<XDRTuple2<D, Flags>, XDRTuple2<Int32, TypedParamList<JobStatsLimit>>>(.domainGetJobStats)
    static let domainAbortJob = RemoteCall<D, XDRVoid>(.domainAbortJob)
    static let domainAbortJobFlags = RemoteCall<XDRTuple2<D, Flags>, XDRVoid>(.domainAbortJobFlags)

    // MARK: Migration (version 3 with parameters)
    typealias MigParams = TypedParamList<MigrateParamsLimit>
    typealias Cookie = XDROpaque<MigrateCookieLimit>
    /// dom, params, flags → cookie_out, xml.
    static let domainMigrateBegin3Params =
        RemoteCall<XDRTuple3<D, MigParams, Flags>, XDRTuple2<Cookie, String>>(.domainMigrateBegin3Params)
    /// params, cookie_in, flags → cookie_out, uri_out.
    static let domainMigratePrepare3Params =
        RemoteCall<XDRTuple3<MigParams, Cookie, Flags>, XDRTuple2<Cookie, String?>>(.domainMigratePrepare3Params)
    /// params, cookie_in, flags → cookie_out; the migration stream follows as stream packets from the client.
    static let domainMigratePrepareTunnel3Params =
        RemoteCall<XDRTuple3<MigParams, Cookie, Flags>, Cookie>(.domainMigratePrepareTunnel3Params)
    /// dom, dconnuri, params, cookie_in, flags → cookie_out.
    static let domainMigratePerform3Params =
        RemoteCall<XDRTuple5<D, String?, MigParams, Cookie, Flags>, Cookie>(.domainMigratePerform3Params)
    /// params, cookie_in, flags, cancelled → dom, cookie_out.
    static let domainMigrateFinish3Params =
        RemoteCall<XDRTuple4<MigParams, Cookie, Flags, Int32>, XDRTuple2<D, Cookie>>(.domainMigrateFinish3Params)
    /// dom, params, cookie_in, flags, cancelled.
    static let domainMigrateConfirm3Params =
        RemoteCall<XDRTuple5<D, MigParams, Cookie, Flags, Int32>, XDRVoid>(.domainMigrateConfirm3Params)
    static let domainMigrateStartPostCopy = RemoteCall<XDRTuple2<D, Flags>, XDRVoid>(.domainMigrateStartPostCopy)
    /// dom, downtime (ms), flags.
    static let domainMigrateSetMaxDowntime =
        RemoteCall<XDRTuple3<D, UInt64, Flags>, XDRVoid>(.domainMigrateSetMaxDowntime)
    static let domainMigrateGetMaxDowntime = RemoteCall<XDRTuple2<D, Flags>, UInt64>(.domainMigrateGetMaxDowntime)
    /// dom, bandwidth (MiB/s), flags.
    static let domainMigrateSetMaxSpeed = RemoteCall<XDRTuple3<D, UInt64, Flags>, XDRVoid>(.domainMigrateSetMaxSpeed)
    static let domainMigrateGetMaxSpeed = RemoteCall<XDRTuple2<D, Flags>, UInt64>(.domainMigrateGetMaxSpeed)

    // MARK: Events
    /// eventID, dom → callbackID.
    static let connectDomainEventCallbackRegisterAny =
        RemoteCall<XDRTuple2<Int32, D?>, Int32>(.connectDomainEventCallbackRegisterAny)
    static let connectDomainEventCallbackDeregisterAny =
        RemoteCall<Int32, XDRVoid>(.connectDomainEventCallbackDeregisterAny)
    static let connectDomainEventRegisterAny = RemoteCall<Int32, XDRVoid>(.connectDomainEventRegisterAny)
    static let connectDomainEventDeregisterAny = RemoteCall<Int32, XDRVoid>(.connectDomainEventDeregisterAny)
    static let connectDomainEventRegister = RemoteCall<XDRVoid, Int32>(.connectDomainEventRegister)
    static let connectDomainEventDeregister = RemoteCall<XDRVoid, Int32>(.connectDomainEventDeregister)

    // MARK: Streams
    /// domain, dev_name, flags; the console's bytes follow as stream packets.
    static let domainOpenConsole = RemoteCall<XDRTuple3<D, String?, Flags>, XDRVoid>(.domainOpenConsole)

    // MARK: Statistics, pinning and guest information (issue 11: monitoring)
    /// dom, path → rd_req, rd_bytes, wr_req, wr_bytes, errs.
    static let domainBlockStats = RemoteCall<XDRTuple2<D, String>, BlockStats>(.domainBlockStats)
    /// dom, path, nparams, flags → params, nparams.
    static let domainBlockStatsFlags =
        RemoteCall<XDRTuple4<D, String, Int32, Flags>, XDRTuple2<TypedParamList<BlockStatsParamsLimit>, Int32>>(
            .domainBlockStatsFlags)
    /// dom, device.
    static let domainInterfaceStats = RemoteCall<XDRTuple2<D, String>, InterfaceStats>(.domainInterfaceStats)
    /// dom, maxStats, flags → stats.
    static let domainMemoryStats =
        RemoteCall<XDRTuple3<D, UInt32, Flags>, XDRList<MemoryStat, MemoryStatsLimit>>(.domainMemoryStats)
    /// dom, period, flags.
    static let domainSetMemoryStatsPeriod =
        RemoteCall<XDRTuple3<D, Int32, Flags>, XDRVoid>(.domainSetMemoryStatsPeriod)
    /// dom, path, flags.
    static let domainGetBlockInfo = RemoteCall<XDRTuple3<D, String, Flags>, BlockInfo>(.domainGetBlockInfo)
    /// DOMAIN_BLOCK_PEEK: domain, path, offset, size, flags → bytes.
    static let domainBlockPeek =
        RemoteCall<XDRTuple5<D, String, UInt64, UInt32, Flags>, XDROpaque<PeekBufferLimit>>(.domainBlockPeek)
    /// DOMAIN_MEMORY_PEEK: domain, offset, size, flags → bytes.
    static let domainMemoryPeek =
        RemoteCall<XDRTuple4<D, UInt64, UInt32, Flags>, XDROpaque<PeekBufferLimit>>(.domainMemoryPeek)
    /// dom, maxinfo, maplen → info, cpumaps.
    static let domainGetVcpus =
        RemoteCall<XDRTuple3<D, Int32, Int32>, XDRTuple2<XDRList<VcpuInfo, VcpuInfoLimit>, XDROpaque<CPUMapsLimit>>>(
            .domainGetVcpus)
    /// dom, ncpumaps, maplen, flags → cpumaps, num.
    static let domainGetVcpuPinInfo =
        RemoteCall<XDRTuple4<D, Int32, Int32, Flags>, XDRTuple2<XDROpaque<CPUMapsLimit>, Int32>>(.domainGetVcpuPinInfo)
    /// dom, vcpu, cpumap, flags.
    static let domainPinVcpuFlags =
        RemoteCall<XDRTuple4<D, UInt32, XDROpaque<CPUMapLimit>, Flags>, XDRVoid>(.domainPinVcpuFlags)
    /// dom, vcpu, cpumap.
    static let domainPinVcpu = RemoteCall<XDRTuple3<D, UInt32, XDROpaque<CPUMapLimit>>, XDRVoid>(.domainPinVcpu)
    /// dom, maplen, flags → cpumaps, ret.
    static let domainGetEmulatorPinInfo =
        RemoteCall<XDRTuple3<D, Int32, Flags>, XDRTuple2<XDROpaque<CPUMapsLimit>, Int32>>(.domainGetEmulatorPinInfo)
    /// dom, cpumap, flags.
    static let domainPinEmulator = RemoteCall<XDRTuple3<D, XDROpaque<CPUMapLimit>, Flags>, XDRVoid>(.domainPinEmulator)
    static let domainSetMetadata = RemoteCall<SetMetadataArgs, XDRVoid>(.domainSetMetadata)
    /// dom, new_name, flags → retcode.
    static let domainRename = RemoteCall<XDRTuple3<D, String?, Flags>, Int32>(.domainRename)
    static let domainInjectNMI = RemoteCall<XDRTuple2<D, Flags>, XDRVoid>(.domainInjectNMI)
    // Devices, live and persistent (hotplug): dom, xml[, flags]; dom, alias, flags.
    static let domainAttachDevice = RemoteCall<XDRTuple2<D, String>, XDRVoid>(.domainAttachDevice)
    static let domainAttachDeviceFlags = RemoteCall<XDRTuple3<D, String, Flags>, XDRVoid>(.domainAttachDeviceFlags)
    static let domainDetachDevice = RemoteCall<XDRTuple2<D, String>, XDRVoid>(.domainDetachDevice)
    static let domainDetachDeviceFlags = RemoteCall<XDRTuple3<D, String, Flags>, XDRVoid>(.domainDetachDeviceFlags)
    static let domainUpdateDeviceFlags = RemoteCall<XDRTuple3<D, String, Flags>, XDRVoid>(.domainUpdateDeviceFlags)
    static let domainDetachDeviceAlias = RemoteCall<XDRTuple3<D, String, Flags>, XDRVoid>(.domainDetachDeviceAlias)
    /// dom, type, uri, flags → metadata.
    static let domainGetMetadata = RemoteCall<XDRTuple4<D, Int32, String?, Flags>, String>(.domainGetMetadata)

    // MARK: Guest agent (issue 11)
    /// dom, source, flags → ifaces.
    static let domainInterfaceAddresses =
        RemoteCall<XDRTuple3<D, UInt32, Flags>, XDRList<DomainInterface, DomainInterfaceLimit>>(.domainInterfaceAddresses)
    /// dom, flags → seconds, nseconds.
    static let domainGetTime = RemoteCall<XDRTuple2<D, Flags>, XDRTuple2<Int64, UInt32>>(.domainGetTime)
    /// dom, seconds, nseconds, flags.
    static let domainSetTime = RemoteCall<XDRTuple4<D, Int64, UInt32, Flags>, XDRVoid>(.domainSetTime)
    /// dom, mountpoints, flags → filesystems.
    static let domainFSFreeze =
        RemoteCall<XDRTuple3<D, XDRList<String, FSFreezeMountpointsLimit>, Flags>, Int32>(.domainFSFreeze)
    static let domainFSThaw =
        RemoteCall<XDRTuple3<D, XDRList<String, FSFreezeMountpointsLimit>, Flags>, Int32>(.domainFSThaw)
    /// dom, flags → info, ret.
    static let domainGetFSInfo =
        RemoteCall<XDRTuple2<D, Flags>, XDRTuple2<XDRList<DomainFSInfo, FSInfoLimit>, UInt32>>(.domainGetFSInfo)
    /// dom, types, flags → params.
    static let domainGetGuestInfo =
        RemoteCall<XDRTuple3<D, UInt32, Flags>, TypedParamList<GuestInfoParamsLimit>>(.domainGetGuestInfo)
    /// dom, user, password, flags.
    static let domainSetUserPassword =
        RemoteCall<XDRTuple4<D, String?, String?, Flags>, XDRVoid>(.domainSetUserPassword)
    /// dom, mountPoint, minimum, flags.
    static let domainFSTrim = RemoteCall<XDRTuple4<D, String?, UInt64, Flags>, XDRVoid>(.domainFSTrim)
    /// dom, user, flags → keys.
    static let domainAuthorizedSSHKeysGet =
        RemoteCall<XDRTuple3<D, String, Flags>, XDRList<String, AuthorizedSSHKeysLimit>>(.domainAuthorizedSSHKeysGet)
    /// dom, user, keys, flags.
    static let domainAuthorizedSSHKeysSet =
        RemoteCall<XDRTuple4<D, String, XDRList<String, AuthorizedSSHKeysLimit>, Flags>, XDRVoid>(
            .domainAuthorizedSSHKeysSet)

    /// DOMAIN_BACKUP_BEGIN: domain, backup XML, checkpoint XML, flags → nothing.
    static let domainBackupBegin = RemoteCall<XDRTuple4<D, String, String?, Flags>, XDRVoid>(.domainBackupBegin)
    /// DOMAIN_BACKUP_GET_XML_DESC: domain, flags → XML.
    static let domainBackupGetXMLDesc = RemoteCall<XDRTuple2<D, Flags>, String>(.domainBackupGetXMLDesc)
    /// DOMAIN_FD_ASSOCIATE: domain, name, flags (+ descriptors) → nothing.
    static let domainFDAssociate = RemoteCall<XDRTuple3<D, String, Flags>, XDRVoid>(.domainFDAssociate)
    /// DOMAIN_OPEN_GRAPHICS: domain, index, flags (+ one descriptor) → nothing.
    static let domainOpenGraphics = RemoteCall<XDRTuple3<D, UInt32, Flags>, XDRVoid>(.domainOpenGraphics)

    // MARK: QEMU program
    /// QEMU_PROC_DOMAIN_MONITOR_COMMAND: domain, cmd, flags → result.
    static let qemuDomainMonitorCommand = RemoteCall<XDRTuple3<D, String, Flags>, String>(qemu: 1)
    /// QEMU_PROC_DOMAIN_AGENT_COMMAND: domain, cmd, timeout, flags → result.
    static let qemuDomainAgentCommand = RemoteCall<XDRTuple4<D, String, Int32, Flags>, String?>(qemu: 3)
    /// QEMU_PROC_DOMAIN_MONITOR_COMMAND_WITH_FILES: domain, cmd, flags (+ descriptors) → result.
    static let qemuDomainMonitorCommandWithFiles = RemoteCall<XDRTuple3<D, String, Flags>, String>(qemu: 7)
    /// QEMU_PROC_DOMAIN_ATTACH: pid, flags → domain.
    static let qemuDomainAttach = RemoteCall<XDRTuple2<UInt32, Flags>, D>(qemu: 2)

    // MARK: LXC program
    /// LXC_PROC_DOMAIN_OPEN_NAMESPACE: domain, flags → (descriptors in the reply).
    static let lxcDomainOpenNamespace = RemoteCall<XDRTuple2<D, Flags>, XDRVoid>(lxc: 1)
}

/// `REMOTE_SECURITY_LABEL_LIST_MAX`.
public enum SecurityLabelListLimit: XDRLimit {
    public static var max: Int { 64 }
    public static var unit: Int { 8 }
}

/// `REMOTE_DOMAIN_BLOCK_PEEK_BUFFER_MAX` and `REMOTE_DOMAIN_MEMORY_PEEK_BUFFER_MAX`.
public enum PeekBufferLimit: XDRLimit {
    public static var max: Int { 4_194_304 }
    public static var unit: Int { 1 }
}

/// Domain stats records (`REMOTE_DOMAIN_LIST_MAX` of them, at least 28 bytes each).
public enum StatsRecordLimit: XDRLimit {
    public static var max: Int { RPCLimits.domainListMax }
    public static var unit: Int { 28 }
}

/// `REMOTE_DOMAIN_JOB_STATS_MAX`.
public enum JobStatsLimit: XDRLimit {
    public static var max: Int { 64 }
    public static var unit: Int { 12 }
}

/// `remote_domain_get_job_info_ret`: the job type and eleven counters (`virDomainJobInfo`).
public struct JobInfoResult: XDRCodable, Equatable {
    public var type: Int32
    /// timeElapsed, timeRemaining, dataTotal, dataProcessed, dataRemaining, memTotal, memProcessed,
    /// memRemaining, fileTotal, fileProcessed, fileRemaining.
    public var counters: [UInt64]

    public init(type: Int32, counters: [UInt64]) {
        self.type = type
        self.counters = counters + [UInt64](repeating: 0, count: max(0, 11 - counters.count))
    }

    /// The `virDomainJobInfo` fields from `virDomainGetJobStats` parameters, as libvirt's GetJobInfo fills them.
    public init(type: Int32, params: [TypedParam]) {
        func v(_ name: String) -> UInt64 {
            for p in params where p.field == name {
                switch p.value {
                case .ullong(let x): return x
                case .llong(let x): return UInt64(max(0, x))
                default: return 0
                }
            }
            return 0
        }
        self.init(type: type, counters: [v("time_elapsed"), v("time_remaining"), v("data_total"), v("data_processed"),
                                         v("data_remaining"), v("memory_total"), v("memory_processed"),
                                         v("memory_remaining"), v("file_total"), v("file_processed"),
                                         v("file_remaining")])
    }

    public init(xdr r: inout XDRReader) throws(XDRError) {
        type = try r.int()
        var c: [UInt64] = []
        for _ in 0..<11 { c.append(try r.uhyper()) }
        counters = c
    }

    public func encode(xdr w: inout XDRWriter) {
        w.int(type)
        for i in 0..<11 { w.uhyper(i < counters.count ? counters[i] : 0) }
    }
}
