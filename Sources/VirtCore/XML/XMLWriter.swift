/// Writes XML the way libvirt's `virBuffer`-based formatters do: two-space indent, single-quoted attributes,
/// self-closing empty elements, and libvirt's escaping (`virBufferEscapeString`: `<`, `>`, `&`, `'`, `"`).
public struct XMLWriter: Sendable {
    public private(set) var output: String = ""
    public var indent: Int = 0

    public init(indent: Int = 0) {
        self.indent = indent
    }

    /// Escapes text or an attribute value as libvirt does.
    public static func escape(_ s: String) -> String {
        var needs = false
        for c in s.utf8 where c == 0x3C || c == 0x3E || c == 0x26 || c == 0x27 || c == 0x22 {
            needs = true
            break
        }
        if !needs { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 16)
        for ch in s.unicodeScalars {
            switch ch {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "'": out += "&apos;"
            case "\"": out += "&quot;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    private mutating func pad() {
        if indent > 0 { output += String(repeating: " ", count: indent) }
    }

    private static func attrs(_ attributes: [(String, String?)]) -> String {
        var s = ""
        for (k, v) in attributes {
            guard let v else { continue }
            s += " \(k)='\(escape(v))'"
        }
        return s
    }

    /// `<name a='v'/>`. Attributes whose value is nil are left out.
    public mutating func empty(_ name: String, _ attributes: [(String, String?)] = []) {
        pad()
        output += "<\(name)\(Self.attrs(attributes))/>\n"
    }

    /// `<name a='v'>text</name>`.
    public mutating func text(_ name: String, _ attributes: [(String, String?)] = [], _ text: String) {
        pad()
        output += "<\(name)\(Self.attrs(attributes))>\(Self.escape(text))</\(name)>\n"
    }

    /// `<name>text</name>` only when `text` is non-nil.
    public mutating func optionalText(_ name: String, _ text: String?) {
        if let text { self.text(name, [], text) }
    }

    /// Opens `<name …>` and indents what `body` writes; closes with `</name>`, or writes `<name …/>` when `body`
    /// wrote nothing.
    public mutating func element(_ name: String, _ attributes: [(String, String?)] = [],
                                 _ body: (inout XMLWriter) throws -> Void) rethrows {
        var inner = XMLWriter(indent: indent + 2)
        try body(&inner)
        if inner.output.isEmpty {
            empty(name, attributes)
        } else {
            pad()
            output += "<\(name)\(Self.attrs(attributes))>\n"
            output += inner.output
            pad()
            output += "</\(name)>\n"
        }
    }

    /// Opens `<name …>`, indents what `body` writes and closes with `</name>`, even when `body` wrote nothing
    /// (libvirt writes `<devices>` and `<hyperv>` this way).
    public mutating func container(_ name: String, _ attributes: [(String, String?)] = [],
                                   _ body: (inout XMLWriter) throws -> Void) rethrows {
        var inner = XMLWriter(indent: indent + 2)
        try body(&inner)
        pad()
        output += "<\(name)\(Self.attrs(attributes))>\n"
        output += inner.output
        pad()
        output += "</\(name)>\n"
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
        output += s
    }

    /// Writes an ``XMLElement`` tree verbatim (for `<metadata>` and other kept-as-is subtrees), re-indented
    /// the way libvirt's `xmlNodeDump` with formatting would.
    public mutating func node(_ el: XMLElement) {
        var body = ""
        XMLWriter.dump(el, indent: indent, into: &body)
        output += body
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

    static func escapeText(_ s: String) -> String {
        s.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;")
    }

    static func escapeAttr(_ s: String) -> String {
        escapeText(s).replacingAll("\"", "&quot;")
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
