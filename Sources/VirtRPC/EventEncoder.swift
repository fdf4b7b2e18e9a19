import NIOCore
import VirtCore

/// Encodes driver events as MESSAGE packets of the remote program.
enum EventEncoder {
    /// The modern callback form (procs 318…), with `callbackID` first. Nil for kinds not carried.
    static func callbackMessage(_ ev: DomainEventRecord, callbackID: Int32) -> ByteBuffer? {
        let proc: RemoteProcedure
        switch ev.kind {
        case .lifecycle: proc = .domainEventCallbackLifecycle
        case .reboot: proc = .domainEventCallbackReboot
        case .balloonChange: proc = .domainEventCallbackBalloonChange
        case .deviceRemoved: proc = .domainEventCallbackDeviceRemoved
        case .deviceAdded: proc = .domainEventCallbackDeviceAdded
        case .deviceRemovalFailed: proc = .domainEventCallbackDeviceRemovalFailed
        case .trayChange: proc = .domainEventCallbackTrayChange
        case .agentLifecycle: proc = .domainEventCallbackAgentLifecycle
        case .jobCompleted: proc = .domainEventCallbackJobCompleted
        case .migrationIteration: proc = .domainEventCallbackMigrationIteration
        case .metadataChange: proc = .domainEventCallbackMetadataChange
        case .tunable: proc = .domainEventCallbackTunable
        case .memoryDeviceSizeChange: proc = .domainEventMemoryDeviceSizeChange
        case .pmWakeup(let reason), .pmSuspend(let reason), .pmSuspendDisk(let reason):
            // remote_domain_event_callback_pm*_msg: callbackID, reason, then the legacy message (the domain).
            let p: RemoteProcedure = switch ev.kind {
            case .pmWakeup: .domainEventCallbackPMWakeup
            case .pmSuspend: .domainEventCallbackPMSuspend
            default: .domainEventCallbackPMSuspendDisk
            }
            return message(p) { w in
                w.int(callbackID)
                w.int(reason)
                w.domain(ev.domain)
            }
        case .blockThreshold: proc = .domainEventBlockThreshold
        case .ioError: proc = .domainEventCallbackIoError
        case .ioErrorReason: proc = .domainEventCallbackIoErrorReason
        case .rtcChange: proc = .domainEventCallbackRTCChange
        case .watchdog: proc = .domainEventCallbackWatchdog
        case .blockJob: proc = .domainEventCallbackBlockJob
        case .blockJob2: proc = .domainEventBlockJob2
        default: return nil
        }
        return message(proc) { w in
            w.int(callbackID)
            body(ev, &w)
        }
    }

    /// The legacy form (107, 169, 170–172, 195, 276, 311, …), without callback id.
    static func legacyMessage(_ ev: DomainEventRecord) -> ByteBuffer? {
        let proc: RemoteProcedure
        switch ev.kind {
        case .lifecycle: proc = .domainEventLifecycle
        case .reboot: proc = .domainEventReboot
        case .balloonChange: proc = .domainEventBalloonChange
        case .deviceRemoved: proc = .domainEventDeviceRemoved
        case .trayChange: proc = .domainEventTrayChange
        case .pmWakeup: proc = .domainEventPMWakeup
        case .pmSuspend: proc = .domainEventPMSuspend
        case .pmSuspendDisk: proc = .domainEventPMSuspendDisk
        case .blockJob: proc = .domainEventBlockJob
        case .rtcChange: proc = .domainEventRTCChange
        case .watchdog: proc = .domainEventWatchdog
        case .ioError: proc = .domainEventIoError
        case .ioErrorReason: proc = .domainEventIoErrorReason
        default: return nil
        }
        return message(proc) { w in body(ev, &w) }
    }

    private static func body(_ ev: DomainEventRecord, _ w: inout XDRWriter) {
        w.domain(ev.domain)
        switch ev.kind {
        case .lifecycle(let l):
            w.int(l.type.rawValue)
            w.int(l.detail)
        case .balloonChange(let kib):
            w.uhyper(kib)
        case .deviceRemoved(let alias), .deviceAdded(let alias), .deviceRemovalFailed(let alias):
            w.string(alias)
        case .trayChange(let alias, let reason):
            w.string(alias)
            w.int(reason)
        case .agentLifecycle(let state, let reason):
            w.int(state)
            w.int(reason)
        case .jobCompleted(let params):
            w.typedParams(params)
        case .migrationIteration(let iteration):
            w.int(iteration)
        case .tunable(let params):
            w.typedParams(params)
        case .metadataChange(let type, let uri):
            w.int(type)
            uri.encode(xdr: &w)
        case .memoryDeviceSizeChange(let alias, let size):
            w.string(alias)
            w.uhyper(size)
        case .ioError(let path, let alias, let action):
            w.string(path)
            w.string(alias)
            w.int(action)
        case .ioErrorReason(let path, let alias, let action, let reason):
            w.string(path)
            w.string(alias)
            w.int(action)
            w.string(reason)
        case .rtcChange(let offset):
            w.hyper(offset)
        case .watchdog(let action):
            w.int(action)
        case .blockThreshold(let dev, let path, let threshold, let excess):
            w.string(dev)
            path.encode(xdr: &w)
            w.uhyper(threshold)
            w.uhyper(excess)
        case .blockJob(let path, let type, let status), .blockJob2(let path, let type, let status):
            w.string(path)
            w.int(type)
            w.int(status)
        default:
            break
        }
    }

    private static func message(_ proc: RemoteProcedure, _ body: (inout XDRWriter) -> Void) -> ByteBuffer {
        // libvirtd sends serial 1 on event messages.
        RPCPacket.encode(RPCHeader(program: RPCProgram.remote, procedure: proc.rawValue, type: .message,
                                   serial: 1), body)
    }
}
