/// IOThread edits shared by the drivers (libvirt's virDomainIOThreadIDAdd/Del and the pinning in `<cputune>`).
extension DomainDefinition {
    /// The IOThreads of the definition: `<iothreadids>`, or ids 1…N for a bare `<iothreads>N</iothreads>`.
    public var allIOThreadIDs: [IOThreadID] {
        let ids = iothreadIDs
        if !ids.isEmpty { return ids }
        return (0..<(iothreads ?? 0)).map { IOThreadID(id: $0 + 1) }
    }

    /// Adds IOThread `id`. The ids a bare `<iothreads>N</iothreads>` implied stay filled in (libvirt's
    /// autofill); the new one is not, so `<iothreadids>` is written while it exists.
    public mutating func addIOThread(_ id: UInt32) throws(VirtError) {
        var ids = allIOThreadIDs
        if ids.contains(where: { $0.id == id }) {
            throw VirtError.invalidArg("an IOThread is already using iothread_id '\(id)'", domain: .domain)
        }
        if iothreadIDs.isEmpty { iothreadAutofill.formUnion(ids.map(\.id)) }
        ids.append(IOThreadID(id: id))
        iothreadIDs = ids
        iothreads = UInt32(ids.count)
    }

    /// Whether `<iothreadids>` is written (libvirt's rule): some id was given rather than filled in, the ids
    /// are not 1…N in order, or a thread pool size is set.
    public var formatsIOThreadIDs: Bool {
        let ids = iothreadIDs
        return ids.enumerated().contains { i, t in
            !iothreadAutofill.contains(t.id) || t.id != UInt32(i + 1) || t.threadPoolMin != nil || t.threadPoolMax != nil
        }
    }

    /// The definition as libvirt's copy of a persistent definition sees it (formatted, then parsed again): ids
    /// that are written are no longer filled in.
    public mutating func forgetIOThreadAutofill() {
        if formatsIOThreadIDs { iothreadAutofill = [] }
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
        if iothreadIDs.isEmpty { iothreadAutofill.formUnion(ids.map(\.id)) }
        ids.remove(at: i)
        iothreadAutofill.remove(id)
        if ids.isEmpty { iothreadAutofill = [] }
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
