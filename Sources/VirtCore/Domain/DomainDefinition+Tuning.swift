/// Typed views of the tuning elements that ``DomainDefinition`` keeps in their canonical XML form
/// (``DomainDefinition/extraElements``): reading gives the typed value, assigning writes the canonical element
/// back, so formatting stays exactly libvirt's.
extension DomainDefinition {
    private func extra(_ name: String) -> XMLElement? { extraElements.first { $0.name == name } }

    private mutating func setExtra(_ name: String, _ element: XMLElement?) {
        if let i = extraElements.firstIndex(where: { $0.name == name }) {
            if let element { extraElements[i] = element } else { extraElements.remove(at: i) }
        } else if let element {
            extraElements.append(element)
        }
    }

    /// `<memtune>`.
    public var memtune: MemTune? {
        get { extra("memtune").map(MemTune.init(element:)) }
        set { setExtra("memtune", newValue?.element) }
    }

    /// `<memoryBacking>`.
    public var memoryBacking: MemoryBacking? {
        get { extra("memoryBacking").map(MemoryBacking.init(element:)) }
        set { setExtra("memoryBacking", newValue?.element) }
    }

    /// `<numatune>`.
    public var numatune: NUMATune? {
        get { extra("numatune").map(NUMATune.init(element:)) }
        set { setExtra("numatune", newValue?.element) }
    }

    /// `<cputune>`.
    public var cputune: CPUTune? {
        get { extra("cputune").map(CPUTune.init(element:)) }
        set { setExtra("cputune", newValue?.element) }
    }

    /// `<iothreadids>`.
    public var iothreadIDs: [IOThreadID] {
        get {
            (extra("iothreadids")?.children("iothread") ?? []).compactMap { e in
                guard let id = e.attr("id").flatMap({ UInt32($0) }) else { return nil }
                return IOThreadID(id: id, threadPoolMin: e.attr("thread_pool_min").flatMap { Int32($0) },
                                  threadPoolMax: e.attr("thread_pool_max").flatMap { Int32($0) })
            }
        }
        set {
            let kids: [XMLElement.Child] = newValue.map { t in
                var attrs: [(name: String, value: String)] = [("id", String(t.id))]
                if let m = t.threadPoolMin { attrs.append(("thread_pool_min", String(m))) }
                if let m = t.threadPoolMax { attrs.append(("thread_pool_max", String(m))) }
                return .element(XMLElement(name: "iothread", attributes: attrs))
            }
            setExtra("iothreadids", kids.isEmpty ? nil : XMLElement(name: "iothreadids", children: kids))
        }
    }
}
