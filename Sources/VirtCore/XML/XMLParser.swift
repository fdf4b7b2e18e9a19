import CLibXML2

/// Parses XML text with libxml2 into an ``XMLElement`` tree.
///
/// Malformed input gives libvirt's XML_ERROR (27) with libxml2's message, line and column, the way libvirt's
/// `virXMLParse` reports it: `(name):LINE: MESSAGE` followed by the offending line and a caret under the column.
public enum XMLParser {
    /// Parses `text`. `documentName` is used in the error message, as libvirt's "(domain_definition)".
    public static func parse(_ text: String, documentName: String = "domain_definition")
        throws(VirtError) -> XMLElement {
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)
            | Int32(XML_PARSE_HUGE.rawValue)
        xmlResetLastError()
        let bytes = Array(text.utf8)
        let doc: xmlDocPtr? = bytes.withUnsafeBufferPointer { buf in
            buf.baseAddress.flatMap { base in
                base.withMemoryRebound(to: CChar.self, capacity: buf.count) { p in
                    xmlReadMemory(p, Int32(buf.count), "\(documentName).xml", nil, options)
                }
            }
        }
        guard let doc else {
            throw parseError(text: text, documentName: documentName)
        }
        defer { xmlFreeDoc(doc) }
        guard let root = xmlDocGetRootElement(doc) else {
            throw VirtError(.xmlError, domain: .xml, "XML error: missing root element")
        }
        return convert(root)
    }

    static func parseError(text: String, documentName: String) -> VirtError {
        guard let err = xmlGetLastError() else {
            if text.trimmingSpaces.isEmpty {
                return VirtError(.xmlError, domain: .xml,
                                 "(\(documentName)):1: Document is empty", int1: 1)
            }
            return VirtError(.xmlError, domain: .xml, "failed to parse xml document '\(documentName)'")
        }
        let line = Int(err.pointee.line)
        let column = Int(err.pointee.int2)
        var message = err.pointee.message.map { String(cString: $0) } ?? "unknown error"
        while message.hasSuffix("\n") { message.removeLast() }
        // libvirt prints the context line and a caret under the column (virXMLParseErrorDetail).
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var full = "(\(documentName)):\(line): \(message)"
        if line >= 1 && line <= lines.count {
            let context = String(lines[line - 1])
            full += "\n" + context + "\n" + String(repeating: "-", count: max(0, column - 1)) + "^"
        }
        return VirtError(.xmlError, domain: .xml, full, int1: Int32(line), int2: Int32(column))
    }

    static func string(_ p: UnsafePointer<xmlChar>?) -> String {
        guard let p else { return "" }
        return String(cString: p)
    }

    static func convert(_ node: xmlNodePtr) -> XMLElement {
        var el = XMLElement(name: string(node.pointee.name))
        el.line = Int(xmlGetLineNo(node))
        if let ns = node.pointee.ns, let pfx = ns.pointee.prefix {
            el.prefix = string(pfx)
        }
        var nsDef = node.pointee.nsDef
        while let n = nsDef {
            el.namespaces.append((n.pointee.prefix.map { string($0) } ?? "", string(n.pointee.href)))
            nsDef = n.pointee.next
        }
        var attr = node.pointee.properties
        while let a = attr {
            var name = string(a.pointee.name)
            if let ns = a.pointee.ns, let pfx = ns.pointee.prefix { name = string(pfx) + ":" + name }
            var value = ""
            if let v = xmlNodeListGetString(node.pointee.doc, a.pointee.children, 1) {
                value = String(cString: v)
                swiftvirt_xml_free(v)
            }
            el.attributes.append((name, value))
            attr = a.pointee.next
        }
        var child = node.pointee.children
        while let c = child {
            switch c.pointee.type {
            case XML_ELEMENT_NODE:
                el.children.append(.element(convert(c)))
            case XML_TEXT_NODE:
                el.children.append(.text(string(c.pointee.content)))
            case XML_CDATA_SECTION_NODE:
                el.children.append(.cdata(string(c.pointee.content)))
            case XML_COMMENT_NODE:
                el.children.append(.comment(string(c.pointee.content)))
            case XML_ENTITY_REF_NODE:
                if let v = xmlNodeGetContent(c) {
                    el.children.append(.text(String(cString: v)))
                    swiftvirt_xml_free(v)
                }
            default:
                break
            }
            child = c.pointee.next
        }
        return el
    }
}
