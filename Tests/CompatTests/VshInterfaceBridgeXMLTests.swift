import Testing
import Virt
import VirtCore
@testable import vsh

/// The XML that iface-bridge and iface-unbridge define, as virsh 9.0's cmdInterfaceBridge/cmdInterfaceUnbridge
/// rewrite it: neither libvirt's test driver (it refuses the inactive XML) nor the host's read-only interface driver
/// lets the rewrite reach a define, so it is checked here, with virsh's refusals and their words.
@MainActor
@Suite struct VshInterfaceBridgeXMLTests {
    final class Errors {
        var text = ""
    }

    static func shell(_ errors: Errors) -> Shell {
        let s = Shell(registry: .standard)
        s.output.sink = { fd, bytes in
            if fd == 2 { errors.text += String(decoding: bytes, as: UTF8.self) }
        }
        return s
    }

    static func xml(_ s: String) throws -> XMLElement { try XMLParser.parse(s, documentName: "(test)", errorDomain: .interface) }

    /// `el` without whitespace-only text.
    static func stripped(_ el: XMLElement) -> XMLElement {
        var out = el
        out.children = el.children.compactMap { c -> XMLElement.Child? in
            switch c {
            case .element(let e): return .element(stripped(e))
            case .text(let t) where t.allSatisfy(\.isWhitespace): return nil
            default: return c
            }
        }
        return out
    }

    static let ethernet = "<interface type='ethernet' name='eth0'><start mode='onboot'/><mac address='52:54:00:aa:bb:cc'/>"
        + "<protocol family='ipv4'><dhcp/></protocol><vlan tag='4'><interface name='eth9'/></vlan></interface>"

    @Test func bridgeMovesMACBondAndVLANDownAndNamesTheBridge() throws {
        let e = Errors()
        let out = try #require(InterfaceCommands.bridged(Self.shell(e), try Self.xml(Self.ethernet), name: "eth0",
                                                         bridge: "br0", stp: true, delay: 7))
        let want = try Self.xml("<interface type='bridge' name='br0'><start mode='onboot'/>"
            + "<protocol family='ipv4'><dhcp/></protocol><bridge stp='on' delay='7'><interface type='ethernet' name='eth0'>"
            + "<mac address='52:54:00:aa:bb:cc'/><vlan tag='4'><interface name='eth9'/></vlan></interface></bridge></interface>")
        #expect(out == want)
        // What is sent to the daemon parses back to the same tree (our writer indents it).
        #expect(Self.stripped(try Self.xml(InterfaceCommands.serialize(out))) == want)
        #expect(e.text == "")

        let noSTP = try #require(InterfaceCommands.bridged(Self.shell(e), try Self.xml(Self.ethernet), name: "eth0",
                                                           bridge: "br0", stp: false, delay: 7))
        #expect(noSTP.child("bridge")?.attributes.map(\.name) == ["stp"])
        #expect(noSTP.child("bridge")?.attr("stp") == "off")
    }

    @Test func bridgeRefusesBridgesNamelessOrMismatchedInterfaces() throws {
        let cases: [(String, String)] = [
            ("<interface type='bridge' name='eth0'/>", "error: Existing device eth0 is already a bridge\n"),
            ("<interface name='eth0'/>", "error: Existing device eth0 has no type\n"),
            ("<interface type='ethernet' name='eth1'/>",
             "error: Interface name from config eth1 doesn't match given supplied name eth0\n"),
            ("<interface type='ethernet'/>",
             "error: Interface name from config (null) doesn't match given supplied name eth0\n"),
        ]
        for (input, message) in cases {
            let e = Errors()
            #expect(InterfaceCommands.bridged(Self.shell(e), try Self.xml(input), name: "eth0", bridge: "br0", stp: true,
                                              delay: 0) == nil)
            #expect(e.text == message)
        }
    }

    @Test func unbridgeMovesThemUpAndKeepsTheBridgeElement() throws {
        let e = Errors()
        let bridged = try #require(InterfaceCommands.bridged(Self.shell(e), try Self.xml(Self.ethernet), name: "eth0",
                                                             bridge: "br0", stp: true, delay: 0))
        let (out, name) = try #require(InterfaceCommands.unbridged(Self.shell(e), bridged, bridge: "br0"))
        #expect(name == "eth0")
        // virsh leaves the emptied <bridge> where it was and appends what it moved up.
        let want = try Self.xml("<interface type='ethernet' name='eth0'><start mode='onboot'/>"
            + "<protocol family='ipv4'><dhcp/></protocol><bridge stp='on' delay='0'><interface type='ethernet' name='eth0'/>"
            + "</bridge><mac address='52:54:00:aa:bb:cc'/><vlan tag='4'><interface name='eth9'/></vlan></interface>")
        #expect(out == want)
        #expect(e.text == "")
    }

    @Test func unbridgeRefusesWhatIsNoBridgeOfOneInterface() throws {
        let cases: [(String, String)] = [
            ("<interface type='ethernet' name='br0'/>", "error: Device br0 is not a bridge\n"),
            ("<interface name='br0'/>", "error: Existing device br0 has no type\n"),
            ("<interface type='bridge' name='br1'><bridge/></interface>",
             "error: Interface name from config br1 doesn't match given supplied name br0\n"),
            ("<interface type='bridge' name='br0'/>", "error: No bridge node in xml document\n"),
            ("<interface type='bridge' name='br0'><bridge/></interface>", "error: No interface attached to bridge\n"),
            ("<interface type='bridge' name='br0'><bridge><interface type='ethernet' name='a'/>"
                + "<interface type='ethernet' name='b'/></bridge></interface>", "error: Multiple interfaces attached to bridge\n"),
            ("<interface type='bridge' name='br0'><bridge><interface type='ethernet'/></bridge></interface>",
             "error: Device attached to bridge br0 has no name\n"),
            ("<interface type='bridge' name='br0'><bridge><interface name='a'/></bridge></interface>",
             "error: Attached device a has no type\n"),
        ]
        for (input, message) in cases {
            let e = Errors()
            #expect(InterfaceCommands.unbridged(Self.shell(e), try Self.xml(input), bridge: "br0") == nil)
            #expect(e.text == message)
        }
    }
}
