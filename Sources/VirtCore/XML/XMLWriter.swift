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

    static func dump(_ el: XMLElement, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        var open = "<\(el.qualifiedName)"
        for ns in el.namespaces {
            open += ns.prefix.isEmpty ? " xmlns=\"\(escapeAttr(ns.href))\"" : " xmlns:\(ns.prefix)=\"\(escapeAttr(ns.href))\""
        }
        for a in el.attributes { open += " \(a.name)=\"\(escapeAttr(a.value))\"" }
        let elementChildren = el.children.filter {
            if case .text(let t) = $0 { return !t.trimmingSpaces.isEmpty }
            return true
        }
        if elementChildren.isEmpty {
            out += pad + open + "/>\n"
            return
        }
        let onlyText = elementChildren.allSatisfy { if case .text = $0 { true } else { false } }
        if onlyText {
            out += pad + open + ">" + escapeText(el.text) + "</\(el.qualifiedName)>\n"
            return
        }
        out += pad + open + ">\n"
        for c in elementChildren {
            switch c {
            case .element(let e): dump(e, indent: indent + 2, into: &out)
            case .text(let t): out += pad + "  " + escapeText(t.trimmingSpaces) + "\n"
            case .cdata(let t): out += pad + "  <![CDATA[" + t + "]]>\n"
            case .comment(let t): out += pad + "  <!--" + t + "-->\n"
            }
        }
        out += pad + "</\(el.qualifiedName)>\n"
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
