import VirtCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A domain read from a node description, with the test driver's namespace settings
/// (`<test:runstate>`, `<test:transient/>`, `<test:hasmanagedsave/>`).
struct NodeDomain: Sendable {
    var definition: DomainDefinition
    var runState: DomainState
    var transient: Bool
    var hasManagedSave: Bool
}

/// A parsed `<node>` document: libvirt's custom test driver node format (`test:///path/to/node.xml`).
struct NodeFile: Sendable {
    static let testNamespace = "http://libvirt.org/schemas/domain/test/1.0"

    var info: NodeInfo
    var domains: [NodeDomain]
    /// `<network>` elements (inline or `file='…'`), each active and persistent.
    var networks: [NetworkDefinition] = []
    /// `<pool>`s with their volumes (TestStorage.swift).
    var pools: [NodePool] = []
    /// `<device>` and `<interface>` elements (libvirt's test driver reads both from node files).
    var devices: [NodeDeviceDefinition] = []
    var interfaces: [InterfaceDefinition] = []
    /// `<auth><user password='…'>name</user></auth>`: the users a connection must authenticate as
    /// (libvirt's test driver asks the client's authentication callback for a name and password).
    var authUsers: [(name: String, password: String?)] = []

    /// Reads and parses the node file at `path`; `<domain file='…'/>` references are resolved relative to it.
    static func load(path: String) throws(VirtError) -> NodeFile {
        let text = try readTextFile(path)
        return try parse(text, path: path)
    }

    /// Parses node XML. `path` (if any) is used to resolve `file='…'` references.
    static func parse(_ text: String, path: String?) throws(VirtError) -> NodeFile {
        let root = try XMLParser.parse(text, documentName: path ?? "(test driver)")
        guard root.name == "node" else {
            throw VirtError(.xmlError, domain: .xml,
                            "XML error: expecting root element of 'node', not '\(root.name)'")
        }
        var info = TestNode.defaultInfo
        if let cpu = root.child("cpu") {
            func uint(_ name: String) throws(VirtError) -> UInt32? {
                guard let t = cpu.childText(name) else { return nil }
                guard let v = UInt32(t) else {
                    throw VirtError(.xmlError, domain: .test, "XML error: invalid node cpu \(name) value")
                }
                return v
            }
            if let v = try uint("nodes") { info.nodes = v }
            if let v = try uint("sockets") { info.sockets = v }
            if let v = try uint("cores") { info.cores = v }
            if let v = try uint("threads") { info.threads = v }
            info.cpus = info.cores * info.threads * info.sockets * info.nodes
            if let active = try uint("active"), active < info.cpus { info.cpus = active }
            if let v = try uint("mhz") { info.mhz = v }
            if let m = cpu.childText("model") { info.model = m }
        } else {
            info.cpus = info.cores * info.threads * info.sockets * info.nodes
        }
        if let t = root.childText("memory") {
            guard let m = UInt64(t) else {
                throw VirtError(.xmlError, domain: .test, "XML error: invalid node memory value")
            }
            info.memory = m
        }
        var domains: [NodeDomain] = []
        for el in root.children("domain") {
            var domainEl = el
            if let file = el.attr("file") {
                let full = resolve(file, relativeTo: path)
                domainEl = try XMLParser.parse(try readTextFile(full), documentName: full)
            }
            domains.append(try parseDomain(domainEl))
        }
        var networks: [NetworkDefinition] = []
        for el in root.children("network") {
            var netEl = el
            if let file = el.attr("file") {
                let full = resolve(file, relativeTo: path)
                netEl = try XMLParser.parse(try readTextFile(full), documentName: full, errorDomain: .network)
            }
            networks.append(try NetworkDefinition(element: netEl))
        }
        var file = NodeFile(info: info, domains: domains, networks: networks)
        for user in root.child("auth")?.children("user") ?? [] {
            let name = user.text
            guard !name.isEmpty else {
                throw VirtError(.xmlError, domain: .test, "XML error: missing username in /node/auth/user field")
            }
            file.authUsers.append((name: name, password: user.attr("password")))
        }
        file.pools = try parsePools(root, path: path)
        for el in root.children("device") {
            var devEl = el
            if let f = el.attr("file") {
                let full = resolve(f, relativeTo: path)
                devEl = try XMLParser.parse(try readTextFile(full), documentName: full, errorDomain: .nodeDevice)
            }
            file.devices.append(try NodeDeviceDefinition(element: devEl))
        }
        for el in root.children("interface") {
            var ifEl = el
            if let f = el.attr("file") {
                let full = resolve(f, relativeTo: path)
                ifEl = try XMLParser.parse(try readTextFile(full), documentName: full, errorDomain: .interface)
            }
            file.interfaces.append(try InterfaceDefinition(element: ifEl))
        }
        return file
    }

    static func parseDomain(_ el: XMLElement) throws(VirtError) -> NodeDomain {
        let def = try TestDomainDefaults.parse(el)
        var runState = DomainState.running
        var transient = false
        var managed = false
        for child in el.elements where child.prefix != nil {
            switch child.name {
            case "runstate":
                let t = child.text.trimmingSpaces
                guard let v = UInt32(t) else {
                    throw VirtError(.xmlError, domain: .test, "XML error: invalid runstate")
                }
                guard let s = DomainState(rawValue: Int32(v)) else {
                    throw VirtError(.xmlError, domain: .test, "XML error: runstate '\(v)' out of range'")
                }
                runState = s
            case "transient": transient = true
            case "hasmanagedsave": managed = true
            default: break
            }
        }
        if transient && runState == .shutoff {
            throw VirtError(.xmlError, domain: .test, "XML error: transient domain cannot have runstate 'shutoff'")
        }
        if managed && runState != .shutoff {
            throw VirtError(.xmlError, domain: .test,
                            "XML error: domain with managedsave data can only have runstate 'shutoff'")
        }
        return NodeDomain(definition: def, runState: runState, transient: transient, hasManagedSave: managed)
    }

    static func resolve(_ file: String, relativeTo path: String?) -> String {
        if file.hasPrefix("/") { return file }
        guard let path, let slash = path.lastIndex(of: "/") else { return file }
        return String(path[..<slash]) + "/" + file
    }

    static func readTextFile(_ path: String) throws(VirtError) -> String {
        // libvirt's virXMLParse reports an unreadable file as a parse failure.
        let unreadable = VirtError(.xmlError, domain: .test, "XML error: failed to parse xml document '\(path)'")
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw unreadable }
        defer { close(fd) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw unreadable
            }
            if n == 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }
}
