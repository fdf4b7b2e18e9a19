import VirtCore

/// Hot-plug of virtio `<channel>` devices, as libvirt 9.0's qemuDomainAttachChrDevice: the alias and
/// virtio-serial port assigned as at start (a virtio-serial controller the domain lacks is plugged first), the
/// host side with QMP `chardev-add` (pty, unix, file, null sources; a pty's path comes back in the reply), then
/// `device_add` of the `virtserialport`; the live definition changes only once QEMU accepted both. The
/// chardev goes again with `chardev-remove` after the port is unplugged (`removeLive`).
extension QEMUDomainObject {
    /// libvirt's `virDomainChrFind` for channels: the same target type and name, and the same source (its
    /// type, path and mode: a pty named without its path does not match the running one's `/dev/pts/N`).
    static func findChannel(_ c: CharDevice, in list: [CharDevice]) -> Int? {
        list.firstIndex {
            $0.targetType == c.targetType && $0.targetName == c.targetName && $0.source.type == c.source.type
                && $0.source.path == c.source.path && $0.source.listen == c.source.listen
        }
    }

    func attachChannel(_ c: CharDevice, live: DomainDefinition, mon: QMPMonitor, capabilities: QEMUCapabilities)
        async throws(VirtError) {
        guard c.targetType == "virtio" else {
            throw VirtError.operationUnsupported(
                "live attach of a channel of target type '\(c.targetType ?? "")' is not supported", domain: .qemu)
        }
        if Self.findChannel(c, in: live.devices.channels) != nil {
            throw VirtError.operationInvalid("chardev already exists", domain: .qemu)
        }
        // libvirt 9.0 does not add the controller for a hot-plugged port.
        if !live.devices.controllers.contains(where: { $0.type == .virtioSerial }) {
            throw VirtError.internalError("no virtio-serial controllers are available", domain: .qemu)
        }
        // libvirt's qemuAssignDeviceChrAlias: one past the highest channelN in use.
        let used = live.devices.channels.compactMap { $0.info.alias.flatMap { Int($0.dropFirst(7)) } }
        var added = c
        added.info.alias = "channel\((used.max() ?? -1) + 1)"
        guard let alias = added.info.alias else { return }
        var next = live
        next.devices.channels.append(added)
        try prepareAdded(&next, from: live, capabilities: capabilities)
        guard var placed = next.devices.channels.last else { return }
        if placed.source.type == .unix, placed.source.path == nil, let dir = channelDirectory, let name = placed.targetName {
            placed.source.path = dir + "/" + name
            placed.source.listen = true
        }
        let backend = try Self.chardevBackend(placed.source)
        let reply = try await mon.execute("chardev-add", arguments: ["id": .string("char" + alias), "backend": backend])
        if placed.source.type == .pty, let pty = reply["pty"]?.stringValue { placed.source.path = pty }
        var device = QEMUJSONProps()
        device.add("driver", "virtserialport")
        QEMUCommandLine(definition: next, capabilities: capabilities).virtioSerialAddress(placed.info, &device)
        device.add("chardev", "char" + alias)
        device.add("id", alias)
        device.add("name", placed.targetName)
        try await addChardevFrontend(device, alias: alias, mon: mon)
        let attached = placed
        recordAttached(alias) { $0.channels.append(attached) }
    }

    /// `device_add` of a character device's frontend; its chardev `char<alias>` goes again when QEMU refuses.
    func addChardevFrontend(_ device: QEMUJSONProps, alias: String, mon: QMPMonitor) async throws(VirtError) {
        do {
            try await mon.execute("device_add", arguments: try Self.json(device))
        } catch {
            _ = try? await mon.execute("chardev-remove", arguments: ["id": .string("char" + alias)])
            throw error
        }
    }

    /// The `backend` of QMP `chardev-add` for a source.
    static func chardevBackend(_ s: CharSource) throws(VirtError) -> JSONValue {
        func path() throws(VirtError) -> String {
            guard let p = s.path else { throw VirtError.xmlDetail("missing source path for \(s.type.rawValue) chardev") }
            return p
        }
        switch s.type {
        case .pty: return ["type": "pty", "data": .object([:])]
        case .null: return ["type": "null", "data": .object([:])]
        case .file:
            var data: [String: JSONValue] = ["out": .string(try path())]
            if let a = s.append { data["append"] = .bool(a) }
            return ["type": "file", "data": .object(data)]
        case .unix:
            var data: [String: JSONValue] = [
                "addr": ["type": "unix", "data": ["path": .string(try path())]], "server": .bool(s.listen),
            ]
            if s.listen { data["wait"] = false }
            return ["type": "socket", "data": .object(data)]
        default:
            throw VirtError.operationUnsupported(
                "live attach of a '\(s.type.rawValue)' character device is not supported", domain: .qemu)
        }
    }
}
