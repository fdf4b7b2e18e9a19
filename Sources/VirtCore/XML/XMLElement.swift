/// A parsed XML element: a small immutable tree that the domain model is read from.
public struct XMLElement: Sendable, Hashable {
    public enum Child: Sendable, Hashable {
        case element(XMLElement)
        case text(String)
        case comment(String)
        case cdata(String)
    }

    public var name: String
    /// The namespace prefix, if any (e.g. `qemu` in `<qemu:commandline>`).
    public var prefix: String?
    /// Namespace declarations on this element (prefix, or "" for the default namespace, to href).
    public var namespaces: [(prefix: String, href: String)]
    /// Attributes in document order.
    public var attributes: [(name: String, value: String)]
    public var children: [Child]
    /// 1-based line of the start tag in the source document.
    public var line: Int

    public init(name: String, prefix: String? = nil, namespaces: [(prefix: String, href: String)] = [],
                attributes: [(name: String, value: String)] = [], children: [Child] = [], line: Int = 0) {
        self.name = name
        self.prefix = prefix
        self.namespaces = namespaces
        self.attributes = attributes
        self.children = children
        self.line = line
    }

    public static func == (a: XMLElement, b: XMLElement) -> Bool {
        a.name == b.name && a.prefix == b.prefix && a.children == b.children
            && a.attributes.map(\.name) == b.attributes.map(\.name)
            && a.attributes.map(\.value) == b.attributes.map(\.value)
            && a.namespaces.map(\.prefix) == b.namespaces.map(\.prefix)
            && a.namespaces.map(\.href) == b.namespaces.map(\.href)
    }

    public func hash(into h: inout Hasher) {
        h.combine(name)
        h.combine(prefix)
        h.combine(children)
    }

    /// The qualified name, `prefix:name` or `name`.
    public var qualifiedName: String { prefix.map { "\($0):\(name)" } ?? name }

    /// The value of attribute `name`, if present.
    public func attr(_ name: String) -> String? {
        for a in attributes where a.name == name { return a.value }
        return nil
    }

    /// Child elements in order.
    public var elements: [XMLElement] {
        children.compactMap { if case .element(let e) = $0 { e } else { nil } }
    }

    /// The first child element named `name` (without a namespace prefix).
    public func child(_ name: String) -> XMLElement? {
        for c in children { if case .element(let e) = c, e.name == name, e.prefix == nil { return e } }
        return nil
    }

    /// All child elements named `name` (without a namespace prefix).
    public func children(_ name: String) -> [XMLElement] {
        children.compactMap { if case .element(let e) = $0, e.name == name, e.prefix == nil { e } else { nil } }
    }

    /// The concatenated text content of this element and its descendants.
    public var text: String {
        var s = ""
        for c in children {
            switch c {
            case .text(let t), .cdata(let t): s += t
            case .element(let e): s += e.text
            case .comment: break
            }
        }
        return s
    }

    /// The text content of child `name`, trimmed, if the child exists.
    public func childText(_ name: String) -> String? { child(name).map { $0.text.trimmingSpaces } }
}
