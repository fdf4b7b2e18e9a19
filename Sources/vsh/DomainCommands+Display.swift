import Virt

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// domdisplay and vncdisplay (virsh-domain.c of virsh 9.0): the graphical display's URI read from the live XML;
/// domrename.
extension DomainCommands {
    static let displayCommands: [CommandDefinition] = [domdisplay, vncdisplay, domrename]

    static let domrename = CommandDefinition(
        "domrename", summary: "rename a domain", description: "Rename an inactive domain.",
        options: [.domain("domain name or uuid"), .data("new-name", "new domain name")]
    ) { shell, cmd in
        guard var dom = await shell.domainOption(cmd, by: [.uuid, .name]) else { return false }
        let (ok, newName) = shell.stringOption(cmd, "new-name")
        guard ok, let newName else { return false }
        guard await shell.call({ try await dom.rename(to: newName) }) != nil else { return false }
        shell.printExtra("Domain successfully renamed\n")
        return true
    }

    /// The graphics schemes domdisplay tries, in virsh's order.
    static let displaySchemes = ["vnc", "spice", "rdp"]

    /// The running domain's XML as a tree (`virshDomainGetXMLFromDom`), after virsh's "Domain is not running".
    @MainActor
    static func liveGraphics(_ shell: Shell, _ dom: Domain, flags: XMLFlags,
                             before: () -> Bool = { true }) async -> [XMLElement]? {
        guard let active = await shell.call({ try await dom.isActive() }) else { return nil }
        if !active {
            shell.error("Domain is not running")
            return nil
        }
        guard before() else { return nil }
        guard let xml = await shell.call({ try await dom.xmlDesc(flags: flags) }),
              let root = await shell.call({ try XMLParser.parse(xml) }) else {
            shell.error("Failed to get domain description xml")
            return nil
        }
        return root.child("devices")?.children("graphics") ?? []
    }

    /// What an XPath `string(/domain/devices/graphics[@type=T]/PATH)` gives: the first value in document order.
    static func graphicsValue(_ graphics: [XMLElement], type: String, _ attr: String, listen: Bool = false) -> String? {
        for g in graphics where g.attr("type") == type {
            if listen {
                if let v = g.children("listen").lazy.compactMap({ $0.attr(attr) }).first { return v }
            } else if let v = g.attr(attr) {
                return v
            }
        }
        return nil
    }

    /// `virXPathInt`: the value as an int, nil when missing or not a number.
    static func graphicsInt(_ graphics: [XMLElement], type: String, _ attr: String) -> Int? {
        graphicsValue(graphics, type: type, attr).flatMap { Int32($0) }.map(Int.init)
    }

    /// Whether an address is the wildcard of its family (`virSocketAddrIsWildcard`).
    static func isWildcard(_ address: String) -> Bool {
        if address.contains(":") {
            var v6 = in6_addr()
            guard inet_pton(AF_INET6, address, &v6) == 1 else { return false }
            return withUnsafeBytes(of: &v6) { $0.allSatisfy { $0 == 0 } }
        }
        var v4 = in_addr()
        return inet_pton(AF_INET, address, &v4) == 1 && v4.s_addr == 0
    }

    /// The host part of the connection's URI, or "localhost" (what virsh shows for a wildcard listen address).
    @MainActor
    static func uriHost(_ shell: Shell) -> String {
        let uri = shell.conn.uri
        guard let sep = uri.range(of: "://") else { return "localhost" }
        var authority = uri[sep.upperBound...].prefix { $0 != "/" && $0 != "?" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            authority = authority[authority.index(after: authority.startIndex)..<close]
        } else if let colon = authority.firstIndex(of: ":") {
            authority = authority[..<colon]
        }
        return authority.isEmpty ? "localhost" : String(authority)
    }

    /// One scheme's URI (`virshGetOneDisplay`); nil when the domain has no display of that scheme.
    @MainActor
    static func displayURI(_ shell: Shell, _ graphics: [XMLElement], scheme: String, withPassword: Bool) -> String? {
        var port = graphicsInt(graphics, type: scheme, "port") ?? 0
        let tlsPort = graphicsInt(graphics, type: scheme, "tlsPort") ?? 0
        let socket = graphicsValue(graphics, type: scheme, "socket", listen: true)
            ?? graphicsValue(graphics, type: scheme, "socket")
        if port == 0 && tlsPort == 0 && socket == nil { return nil }
        var host = graphicsValue(graphics, type: scheme, "listen")
            ?? graphicsValue(graphics, type: scheme, "address", listen: true)
        if let h = host, isWildcard(h) { host = nil }
        let password = withPassword ? graphicsValue(graphics, type: scheme, "passwd") : nil

        var uri = socket == nil ? "\(scheme)://" : "\(scheme)+unix://"
        if scheme == "vnc", let password { uri += ":\(password)@" }
        if let socket {
            uri += socket
        } else {
            let h = host ?? uriHost(shell)
            uri += h.contains(":") ? "[\(h)]" : h
        }
        if port != 0 {
            // VNC clients take the display number: the port less 5900.
            if scheme == "vnc" { port -= 5900 }
            uri += ":\(port)"
        }
        var params = false
        if tlsPort != 0 {
            uri += "?tls-port=\(tlsPort)"
            params = true
        }
        if scheme == "spice", let password {
            uri += "\(params ? "&" : "?")password=\(password)"
        }
        return uri
    }

    static let domdisplay = CommandDefinition(
        "domdisplay", summary: "domain display connection URI",
        description: "Output the IP address and port number for the graphical display.",
        options: [
            .domain(),
            .flag("include-password", "includes the password into the connection URI if available"),
            .string("type", "select particular graphical display (e.g. \"vnc\", \"spice\", \"rdp\", \"dbus\")",
                    requiresName: true),
            .flag("all", "show all possible graphical displays"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "all", "type") else { return false }
        guard let dom = await shell.domainOption(cmd) else { return false }
        let withPassword = cmd.has("include-password")
        var type: String?
        guard let graphics = await liveGraphics(shell, dom, flags: withPassword ? [.secure] : [], before: {
            let (ok, value) = shell.stringOption(cmd, "type")
            type = value
            return ok
        }) else { return false }
        var found = false
        for scheme in displaySchemes {
            if let type, type != scheme { continue }
            guard let uri = displayURI(shell, graphics, scheme: scheme, withPassword: withPassword) else { continue }
            // virsh ends the line itself only between displays of --all; otherwise the shell's blank line
            // after the command ends it.
            shell.print(uri)
            found = true
            if !cmd.has("all") { break }
            shell.print("\n")
        }
        if !found {
            if let type {
                shell.error("No graphical display with type '\(type)' found")
            } else {
                shell.error("No graphical display found")
            }
            return false
        }
        return true
    }

    static let vncdisplay = CommandDefinition(
        "vncdisplay", summary: "vnc display",
        description: "Output the IP address and port number for the VNC display.",
        options: [.domain()]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd),
              let graphics = await liveGraphics(shell, dom, flags: []) else { return false }
        guard let port = graphicsInt(graphics, type: "vnc", "port") else {
            shell.error("Failed to get VNC port. Is this domain using VNC?")
            return false
        }
        let listen = graphicsValue(graphics, type: "vnc", "listen")
            ?? graphicsValue(graphics, type: "vnc", "address", listen: true)
        if let listen, listen != "0.0.0.0" {
            shell.print("\(listen):\(port - 5900)\n")
        } else {
            shell.print(":\(port - 5900)\n")
        }
        return true
    }
}
