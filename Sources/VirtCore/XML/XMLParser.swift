import CLibXML2

/// Parses XML text with libxml2 into an ``XMLElement`` tree.
///
/// Malformed input gives the error libvirt's `virXMLParse` reports (XML_DETAIL, 35): `(NAME):LINE: MESSAGE`
/// followed by the offending line and a caret under the column where the parser stopped. `int1` and `int2` of the
/// error carry the line and the 1-based column.
public enum XMLParser {
    /// The first error libxml2 reported while parsing, with the parser position at that moment.
    final class ErrorCapture {
        var message: String?
        var line = 0
        var context = ""
        var column = 0
    }

    /// Parses `text`. `documentName` is used in the error message, as libvirt's "(domain_definition)";
    /// `errorDomain` is the libvirt error domain reported for malformed XML.
    public static func parse(_ text: String, documentName: String = "domain_definition",
                             errorDomain: VirtError.ErrorDomain = .domain) throws(VirtError) -> XMLElement {
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)
            | Int32(XML_PARSE_HUGE.rawValue)
        guard let ctxt = xmlNewParserCtxt() else {
            throw VirtError(.noMemory, domain: errorDomain, "out of memory")
        }
        defer { xmlFreeParserCtxt(ctxt) }
        let capture = ErrorCapture()
        let box = Unmanaged.passRetained(capture)
        defer { box.release() }
        ctxt.pointee._private = box.toOpaque()
        ctxt.pointee.sax?.pointee.serror = { userData, error in
            guard let userData, let error else { return }
            let c = userData.assumingMemoryBound(to: xmlParserCtxt.self)
            guard let priv = c.pointee._private else { return }
            let cap = Unmanaged<ErrorCapture>.fromOpaque(priv).takeUnretainedValue()
            guard cap.message == nil, error.pointee.level.rawValue >= XML_ERR_ERROR.rawValue else { return }
            cap.message = error.pointee.message.map { String(cString: $0) } ?? "unknown error"
            cap.line = Int(error.pointee.line)
            XMLParser.captureContext(c, into: cap)
        }
        var bytes = Array(text.utf8)
        bytes.append(0)
        let doc: xmlDocPtr? = bytes.withUnsafeBufferPointer { buf in
            buf.baseAddress.flatMap { base in
                base.withMemoryRebound(to: CChar.self, capacity: buf.count) { p in
                    xmlCtxtReadMemory(ctxt, p, Int32(buf.count - 1), "\(documentName).xml", nil, options)
                }
            }
        }
        guard let doc, ctxt.pointee.wellFormed != 0 else {
            if let doc { xmlFreeDoc(doc) }
            throw parseError(capture, documentName: documentName, errorDomain: errorDomain)
        }
        defer { xmlFreeDoc(doc) }
        guard let root = xmlDocGetRootElement(doc) else {
            throw VirtError(.xmlDetail, domain: errorDomain, "(\(documentName)):1: Document is empty\n(null)\n^")
        }
        return convert(root)
    }

    /// Records the current input line and the column of the parser's position, as libvirt's `catchXMLError`.
    static func captureContext(_ c: UnsafeMutablePointer<xmlParserCtxt>, into cap: ErrorCapture) {
        guard let input = c.pointee.input, let base = input.pointee.base, let curIn = input.pointee.cur else { return }
        var cur = curIn
        func at(_ p: UnsafePointer<xmlChar>) -> UInt8 { p.pointee }
        while cur > base && (at(cur) == 0x0A || at(cur) == 0x0D) { cur -= 1 }
        while cur > base && at(cur) != 0x0A && at(cur) != 0x0D { cur -= 1 }
        if at(cur) == 0x0A || at(cur) == 0x0D { cur += 1 }
        let col = curIn - cur
        var line = [UInt8]()
        var p = cur
        while at(p) != 0 && at(p) != 0x0A && at(p) != 0x0D {
            line.append(at(p))
            p += 1
        }
        cap.context = String(decoding: line, as: UTF8.self)
        var pointer = ""
        var n = 0
        while n < col && n < line.count {
            pointer += line[n] == 0x09 ? "\t" : "-"
            n += 1
        }
        cap.column = max(0, col) + 1
        cap.context += "\n" + pointer + "^"
        if line.isEmpty { cap.context = "(null)\n" + pointer + "^" }
    }

    static func parseError(_ cap: ErrorCapture, documentName: String, errorDomain: VirtError.ErrorDomain)
        -> VirtError {
        guard let message = cap.message else {
            return VirtError(.xmlDetail, domain: errorDomain, "(\(documentName)):1: Document is empty\n(null)\n^",
                             int1: 1, int2: 1)
        }
        var msg = message
        while msg.hasSuffix("\n") { msg.removeLast() }
        let full = "(\(documentName)):\(cap.line): \(msg)\n\(cap.context)"
        return VirtError(.xmlDetail, domain: errorDomain, full, str1: "%s", str2: full,
                         int1: Int32(cap.line), int2: Int32(cap.column))
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
