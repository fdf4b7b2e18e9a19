import Testing
@testable import VirtCore

/// `<networkport>` parsed and formatted as libvirtd 9.0 does (the expected texts are what libvirtd 9.0 answered
/// to virNetworkPortGetXMLDesc for the same input, recorded on this machine), and its parse errors in libvirt's
/// words.
@Suite struct NetworkPortXMLTests {
    static let owner = "<owner><name>x</name><uuid>aaaaaaaa-2222-3333-4444-555555555555</uuid></owner>"

    @Test("a port with group, bandwidth, VLAN, isolation, rxfilters and a bridge plug formats as libvirt's")
    func format() throws {
        let input = """
        <networkport><uuid>11111111-2222-3333-4444-555555555557</uuid>\(Self.owner)<group>g</group>\
        <mac address='52:54:00:aa:bb:ce'/><bandwidth><inbound average='1000' peak='2000' burst='1024'/>\
        <outbound average='500'/></bandwidth><vlan><tag id='42'/></vlan><port isolated='yes'/>\
        <rxfilters trustGuest='yes'/><plug type='bridge' bridge='virbr0' macTableManager='libvirt'/></networkport>
        """
        let p = try NetworkPortDefinition(xml: input)
        #expect(p.xml() == """
        <networkport>
          <uuid>11111111-2222-3333-4444-555555555557</uuid>
          <owner>
            <name>x</name>
            <uuid>aaaaaaaa-2222-3333-4444-555555555555</uuid>
          </owner>
          <group>g</group>
          <mac address='52:54:00:aa:bb:ce'/>
          <bandwidth>
            <inbound average='1000' peak='2000' burst='1024'/>
            <outbound average='500'/>
          </bandwidth>
          <vlan>
            <tag id='42'/>
          </vlan>
          <port isolated='yes'/>
          <rxfilters trustGuest='yes'/>
          <plug type='bridge' bridge='virbr0' macTableManager='libvirt'/>
        </networkport>

        """)
        #expect(p.plugBridge == "virbr0")
        #expect(p.parameters.map(\.field) == ["inbound.average", "inbound.peak", "inbound.floor", "inbound.burst",
                                              "outbound.average", "outbound.peak", "outbound.burst"])
        #expect(try NetworkPortDefinition(xml: p.xml()) == p)
    }

    @Test("missing and malformed parts are refused in libvirt's words")
    func errors() {
        let cases: [(String, String)] = [
            ("<networkport/>", "internal error: network port has no uuid"),
            ("<networkport><uuid>11111111-2222-3333-4444-555555555556</uuid><owner/></networkport>",
             "internal error: network port has no owner name"),
            ("<networkport><uuid>11111111-2222-3333-4444-555555555556</uuid><owner><name>x</name></owner></networkport>",
             "internal error: network port has no owner UUID"),
            ("<networkport><uuid>11111111-2222-3333-4444-555555555556</uuid>\(Self.owner)</networkport>",
             "internal error: network port has no mac"),
            ("<networkport><uuid>zz</uuid>\(Self.owner)<mac address='52:54:00:aa:bb:cd'/></networkport>",
             "internal error: Unable to parse UUID 'zz'"),
            ("<networkport><uuid>11111111-2222-3333-4444-55555555555a</uuid>\(Self.owner)<mac address='zz'/></networkport>",
             "internal error: Unable to parse MAC 'zz'"),
            ("<networkport><uuid>11111111-2222-3333-4444-55555555555c</uuid>\(Self.owner)<mac address='52:54:00:aa:bb:cd'/>"
                + "<port isolated='maybe'/></networkport>",
             "XML error: Invalid value for attribute 'isolated' in element 'port': 'maybe'."),
            ("<networkport><uuid>11111111-2222-3333-4444-55555555555c</uuid>\(Self.owner)<mac address='52:54:00:aa:bb:cd'/>"
                + "<plug type='bogus'/></networkport>",
             "XML error: Invalid value for attribute 'type' in element 'plug': 'bogus'."),
            ("<bogus/>", "XML error: expecting root element of 'networkport', not 'bogus'"),
        ]
        for (xml, message) in cases {
            #expect(throws: VirtError.self) { try NetworkPortDefinition(xml: xml) }
            do {
                _ = try NetworkPortDefinition(xml: xml)
            } catch {
                #expect(error.message == message, "\(xml)")
            }
        }
    }
}
