/// Writes XML the way libvirt's `virBuffer`-based formatters do: two-space indent, single-quoted attributes,
/// self-closing empty elements, and libvirt's escaping (`virBufferEscapeString`: `<`, `>`, `&`, `'`, `"`).
public struct XMLWriter: Sendable {
    /// The UTF-8 bytes written so far (the formatter's hot path appends bytes, not Strings).
    public private(set) var bytes: [UInt8] = []
    public var indent: Int = 0

    /// What has been written so far.
    public var output: String { String(decoding: bytes, as: UTF8.self) }

    public init(indent: Int = 0) {
        self.indent = indent
        bytes.reserveCapacity(4096)
    }

    /// Escapes text or an attribute value as libvirt does.
    public static func escape(_ s: String) -> String {
        var needs = false
        for c in s.utf8 where c == 0x3C || c == 0x3E || c == 0x26 || c == 0x27 || c == 0x22 {
            needs = true
            break
        }
        if !needs { return s }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 16)
        appendEscaped(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendEscaped(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { appendEscaped($0, to: &out) }
    }

    /// Appends `utf8` with libvirt's escaping: runs of plain bytes are copied whole.
    static func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var start = 0
        for i in 0..<utf8.count {
            let c = utf8[i]
            guard c == 0x3C || c == 0x3E || c == 0x26 || c == 0x27 || c == 0x22 else { continue }
            if start < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i])) }
            switch c {
            case 0x3C: out.append(contentsOf: [0x26, 0x6C, 0x74, 0x3B])  // &lt;
            case 0x3E: out.append(contentsOf: [0x26, 0x67, 0x74, 0x3B])  // &gt;
            case 0x26: out.append(contentsOf: [0x26, 0x61, 0x6D, 0x70, 0x3B])  // &amp;
            case 0x27: out.append(contentsOf: [0x26, 0x61, 0x70, 0x6F, 0x73, 0x3B])  // &apos;
            default: out.append(contentsOf: [0x26, 0x71, 0x75, 0x6F, 0x74, 0x3B])  // &quot;
            }
            start = i + 1
        }
        if start < utf8.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...])) }
    }

    @inline(__always)
    private mutating func put(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    private mutating func put(_ c: UInt8) {
        bytes.append(c)
    }

    private mutating func pad() {
        var n = indent
        while n > 0 {
            bytes.append(0x20)
            n -= 1
        }
    }

    private mutating func writeAttrs(_ attributes: [(String, String?)]) {
        for (k, v) in attributes {
            guard let v else { continue }
            put(0x20)
            put(k)
            put(0x3D)
            put(0x27)
            Self.appendEscaped(v, to: &bytes)
            put(0x27)
        }
    }

    /// `<name a='v'/>`. Attributes whose value is nil are left out.
    public mutating func empty(_ name: String, _ attributes: [(String, String?)] = []) {
        pad()
        put(0x3C)
        put(name)
        writeAttrs(attributes)
        put(0x2F)
        put(0x3E)
        put(0x0A)
    }

    /// `<name a='v'>text</name>`.
    public mutating func text(_ name: String, _ attributes: [(String, String?)] = [], _ text: String) {
        pad()
        put(0x3C)
        put(name)
        writeAttrs(attributes)
        put(0x3E)
        Self.appendEscaped(text, to: &bytes)
        put(0x3C)
        put(0x2F)
        put(name)
        put(0x3E)
        put(0x0A)
    }

    /// `<name>text</name>` only when `text` is non-nil.
    public mutating func optionalText(_ name: String, _ text: String?) {
        if let text { self.text(name, [], text) }
    }

    /// Opens `<name …>` and indents what `body` writes; closes with `</name>`, or writes `<name …/>` when `body`
    /// wrote nothing.
    public mutating func element(_ name: String, _ attributes: [(String, String?)] = [],
                                 _ body: (inout XMLWriter) throws -> Void) rethrows {
        try open(name, attributes, selfClosing: true, body)
    }

    /// Opens `<name …>`, indents what `body` writes and closes with `</name>`, even when `body` wrote nothing
    /// (libvirt writes `<devices>` and `<hyperv>` this way).
    public mutating func container(_ name: String, _ attributes: [(String, String?)] = [],
                                   _ body: (inout XMLWriter) throws -> Void) rethrows {
        try open(name, attributes, selfClosing: false, body)
    }

    private mutating func open(_ name: String, _ attributes: [(String, String?)], selfClosing: Bool,
                               _ body: (inout XMLWriter) throws -> Void) rethrows {
        pad()
        put(0x3C)
        put(name)
        writeAttrs(attributes)
        put(0x3E)
        put(0x0A)
        let mark = bytes.count
        indent += 2
        try body(&self)
        indent -= 2
        if selfClosing && bytes.count == mark {
            bytes.removeLast(2)
            put(0x2F)
            put(0x3E)
            put(0x0A)
        } else {
            pad()
            put(0x3C)
            put(0x2F)
            put(name)
            put(0x3E)
            put(0x0A)
        }
    }

    /// Writes an ``XMLElement`` the way libvirt's own formatters write elements: single-quoted attributes,
    /// libvirt's escaping, two-space indent, self-closing when empty, text content inline. White-space-only text
    /// and comments are dropped. Used for elements kept as they were parsed.
    public mutating func formatted(_ el: XMLElement) {
        let name = el.qualifiedName
        var attrs: [(String, String?)] = []
        for n in el.namespaces { attrs.append((n.prefix.isEmpty ? "xmlns" : "xmlns:\(n.prefix)", n.href)) }
        for a in el.attributes { attrs.append((a.name, a.value)) }
        let kids = el.elements
        if kids.isEmpty {
            let t = el.text
            if t.trimmingSpaces.isEmpty {
                empty(name, attrs)
            } else {
                text(name, attrs, t)
            }
            return
        }
        element(name, attrs) { w in
            for k in kids { w.formatted(k) }
        }
    }

    /// Writes a raw, already indented and terminated chunk.
    public mutating func raw(_ s: String) {
        put(s)
    }

    /// Writes an ``XMLElement`` tree verbatim (for `<metadata>` and other kept-as-is subtrees), re-indented
    /// the way libvirt's `xmlNodeDump` with formatting would.
    public mutating func node(_ el: XMLElement) {
        var body = ""
        XMLWriter.dump(el, indent: indent, into: &body)
        put(body)
    }

    static func openTag(_ el: XMLElement) -> String {
        var open = "<\(el.qualifiedName)"
        for ns in el.namespaces {
            open += ns.prefix.isEmpty ? " xmlns=\"\(escapeAttr(ns.href))\"" : " xmlns:\(ns.prefix)=\"\(escapeAttr(ns.href))\""
        }
        for a in el.attributes { open += " \(a.name)=\"\(escapeAttr(a.value))\"" }
        return open
    }

    /// libxml2's `xmlNodeDump` with formatting: children are indented unless the element has text content, in
    /// which case its whole content is written inline.
    static func dump(_ el: XMLElement, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        let open = openTag(el)
        let kids = el.children
        if kids.isEmpty {
            out += pad + open + "/>\n"
            return
        }
        let mixed = kids.contains {
            switch $0 {
            case .text, .cdata: return true
            default: return false
            }
        }
        if mixed {
            out += pad
            dumpInline(el, into: &out)
            out += "\n"
            return
        }
        out += pad + open + ">\n"
        for c in kids {
            switch c {
            case .element(let e): dump(e, indent: indent + 2, into: &out)
            case .comment(let t): out += pad + "  <!--" + t + "-->\n"
            case .text, .cdata: break
            }
        }
        out += pad + "</\(el.qualifiedName)>\n"
    }

    static func dumpInline(_ el: XMLElement, into out: inout String) {
        out += openTag(el)
        if el.children.isEmpty {
            out += "/>"
            return
        }
        out += ">"
        for c in el.children {
            switch c {
            case .element(let e): dumpInline(e, into: &out)
            case .text(let t): out += escapeText(t)
            case .cdata(let t): out += "<![CDATA[" + t + "]]>"
            case .comment(let t): out += "<!--" + t + "-->"
            }
        }
        out += "</\(el.qualifiedName)>"
    }

    /// libxml2's escaping of text content in `xmlNodeDump`.
    public static func escapeText(_ s: String) -> String {
        s.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;").replacingAll("\r", "&#13;")
    }

    /// libxml2's escaping of attribute values in `xmlNodeDump` (double-quoted; line breaks and tabs as
    /// character references).
    public static func escapeAttr(_ s: String) -> String {
        escapeText(s).replacingAll("\"", "&quot;").replacingAll("\n", "&#10;").replacingAll("\t", "&#9;")
    }
}

extension String {
    /// Replaces every occurrence of `target` with `replacement` (no Foundation needed).
    public func replacingAll(_ target: String, _ replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        out += rest
        return out
    }
}
