/// Which metadata `virDomainGetMetadata` / `virDomainSetMetadata` address (`virDomainMetadataType`).
public enum DomainMetadataType: Int32, Sendable, Hashable {
    case description = 0
    case title = 1
    case element = 2
}

extension DomainMetadataType {
    /// The type named by `raw`, or libvirt's "unknown metadata type" error.
    public static func checked(_ raw: Int32) throws(VirtError) -> DomainMetadataType {
        guard let t = DomainMetadataType(rawValue: raw) else {
            throw VirtError.invalidArg("unknown metadata type '\(raw)'", domain: .domain)
        }
        return t
    }
}

extension DomainDefinition {
    /// libvirt's `virDomainGetMetadata` on this definition: the description, the title, or the `<metadata>`
    /// element of namespace `uri`, written without that namespace (as `virsh metadata DOM URI` prints it).
    public func metadataValue(_ type: DomainMetadataType, uri: String? = nil) throws(VirtError) -> String {
        let notFound = VirtError(.noDomainMetadata, domain: .domain,
                                 "metadata not found: Requested metadata element is not present",
                                 str1: "metadata not found: %s", str2: "Requested metadata element is not present")
        switch type {
        case .description:
            guard let d = description else { throw notFound }
            return d
        case .title:
            guard let t = title else { throw notFound }
            return t
        case .element:
            guard let uri else {
                throw VirtError(.invalidArg, domain: .domain, "uri in virDomainGetMetadata must not be NULL")
            }
            guard let m = metadata else { throw notFound }
            for c in m.elements where Self.namespaceURI(of: c, inherited: m.namespaces) == uri {
                // As libxml2 copies the node: namespaces used but declared on <metadata> move onto it.
                var e = c
                var used: [String] = []
                Self.collectPrefixes(c, scope: [], into: &used)
                for pfx in used {
                    if let d = m.namespaces.first(where: { $0.prefix == pfx }) { e.namespaces.append(d) }
                }
                var out = ""
                XMLWriter.dump(Self.removingNamespace(e, uri: uri), indent: 0, into: &out)
                if out.hasSuffix("\n") { out.removeLast() }
                return out
            }
            throw notFound
        }
    }

    /// libvirt's `virDomainSetMetadata` on this definition: sets or (with a nil or empty `value`) removes the
    /// description, the title, or the `<metadata>` element of namespace `uri` (written with prefix `key`; the
    /// namespace is given to the new element and to its descendants that have none).
    public mutating func setMetadata(_ type: DomainMetadataType, value: String?, key: String? = nil,
                                     uri: String? = nil) throws(VirtError) {
        switch type {
        case .description, .title:
            if uri != nil {
                throw VirtError(.invalidArg, domain: .domain, "uri in virDomainSetMetadata must be NULL")
            }
            if key != nil {
                throw VirtError(.invalidArg, domain: .domain, "key in virDomainSetMetadata must be NULL")
            }
            let v = (value?.isEmpty ?? true) ? nil : value
            if type == .title {
                if let v, v.contains("\n") {
                    throw VirtError(.invalidArg, domain: .domain, "metadata title can't contain newlines")
                }
                title = v
            } else {
                description = v
            }
        case .element:
            guard let uri else {
                throw VirtError(.invalidArg, domain: .domain, "uri in virDomainSetMetadata must not be NULL")
            }
            var m = metadata ?? XMLElement(name: "metadata")
            var newElement: XMLElement?
            if let value, !value.isEmpty {
                guard let key else {
                    throw VirtError(.invalidArg, domain: .domain, "key in virDomainSetMetadata must not be NULL")
                }
                let parsed = try XMLParser.parse(value, documentName: "metadata_xml")
                guard Self.isNCName(key) else {
                    throw VirtError(.internalError, domain: .xml,
                                    "internal error: failed to validate prefix for a new XML namespace")
                }
                // libxml2's xmlNewNs refuses a prefix the element already declares.
                if parsed.namespaces.contains(where: { $0.prefix == key }) {
                    throw VirtError(.internalError, domain: .xml, "internal error: failed to create a new XML namespace")
                }
                var e = Self.injectingNamespace(parsed, prefix: key)
                e.namespaces.append((key, uri))
                newElement = e
            }
            m.children.removeAll { c in
                if case .element(let e) = c { return Self.namespaceURI(of: e, inherited: m.namespaces) == uri }
                return false
            }
            if let newElement { m.children.append(.element(newElement)) }
            metadata = m
        }
    }

    /// Gives `prefix` to `e` and its descendants that have no namespace prefix.
    static func injectingNamespace(_ e: XMLElement, prefix: String) -> XMLElement {
        var out = e
        if out.prefix == nil && !out.namespaces.contains(where: { $0.prefix.isEmpty }) { out.prefix = prefix }
        out.children = e.children.map { c in
            if case .element(let k) = c { return .element(injectingNamespace(k, prefix: prefix)) }
            return c
        }
        return out
    }

    /// `e` with the namespace `uri` (its declaration and the prefix using it) removed.
    static func removingNamespace(_ e: XMLElement, uri: String) -> XMLElement {
        guard let decl = e.namespaces.first(where: { $0.href == uri }) else { return e }
        func strip(_ x: XMLElement) -> XMLElement {
            var o = x
            o.namespaces.removeAll { $0.prefix == decl.prefix && $0.href == uri }
            if o.prefix == decl.prefix { o.prefix = nil }
            o.children = x.children.map { c in
                if case .element(let k) = c { return .element(strip(k)) }
                return c
            }
            return o
        }
        return strip(e)
    }

    /// Whether `s` is an XML NCName (a namespace prefix).
    static func isNCName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first else { return false }
        func start(_ c: Unicode.Scalar) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || c.value > 0x7F
        }
        guard start(first) else { return false }
        for c in s.unicodeScalars.dropFirst() {
            guard start(c) || (c >= "0" && c <= "9") || c == "-" || c == "." else { return false }
        }
        return true
    }
}
