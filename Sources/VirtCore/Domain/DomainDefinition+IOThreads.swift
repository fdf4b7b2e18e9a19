/// IOThread edits shared by the drivers (libvirt's virDomainIOThreadIDAdd/Del and the pinning in `<cputune>`).
extension DomainDefinition {
    /// The IOThreads of the definition: `<iothreadids>`, or ids 1…N for a bare `<iothreads>N</iothreads>`.
    public var allIOThreadIDs: [IOThreadID] {
        let ids = iothreadIDs
        if !ids.isEmpty { return ids }
        return (0..<(iothreads ?? 0)).map { IOThreadID(id: $0 + 1) }
    }

    /// Adds IOThread `id` (the ids become explicit in `<iothreadids>`, as libvirt formats them after an add).
    public mutating func addIOThread(_ id: UInt32) throws(VirtError) {
        var ids = allIOThreadIDs
        if ids.contains(where: { $0.id == id }) {
            throw VirtError.invalidArg("an IOThread is already using iothread_id '\(id)'", domain: .domain)
        }
        ids.append(IOThreadID(id: id))
        iothreadIDs = ids
        iothreads = UInt32(ids.count)
    }

    /// The disk that names IOThread `id` in its `<driver iothread=…>`, if any.
    public func diskUsingIOThread(_ id: UInt32) -> Disk? {
        devices.disks.first { $0.driver.iothread == id }
    }

    /// Removes IOThread `id` and its `<iothreadpin>`; refused while a disk uses it.
    public mutating func removeIOThread(_ id: UInt32) throws(VirtError) {
        var ids = allIOThreadIDs
        guard let i = ids.firstIndex(where: { $0.id == id }) else {
            throw VirtError.invalidArg("cannot find IOThread '\(id)' in iothreadids list", domain: .domain)
        }
        if let disk = diskUsingIOThread(id) {
            throw VirtError.invalidArg(
                "cannot remove IOThread \(id) since it is being used by disk '\(disk.target.dev)'", domain: .domain)
        }
        ids.remove(at: i)
        iothreadIDs = ids
        iothreads = ids.isEmpty ? nil : UInt32(ids.count)
        if var tune = cputune {
            tune.iothreadPins.removeAll { $0.id == id }
            cputune = tune
        }
    }

    /// Sets the `<iothreadpin>` of IOThread `id` (the thread must exist: checked by the caller).
    public mutating func setIOThreadPin(_ id: UInt32, _ set: CPUSet) {
        var tune = cputune ?? CPUTune()
        tune.iothreadPins.removeAll { $0.id == id }
        tune.iothreadPins.append(CPUTune.Pin(id: id, cpuset: set))
        tune.iothreadPins.sort { $0.id < $1.id }
        cputune = tune
    }
}
