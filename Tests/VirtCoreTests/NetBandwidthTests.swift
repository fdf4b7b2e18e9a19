import Testing
@testable import VirtCore

/// An interface's `<bandwidth>` as libvirt 9.0 parses and formats it (the expected texts and errors are what
/// Debian's virsh printed on test:///default for the same inputs), and the typed parameters of
/// virDomainSet/GetInterfaceParameters.
@Suite struct NetBandwidthTests {
    static func domain(_ type: String, _ bandwidth: String) -> String {
        let source = type == "network" ? "<source network='default'/>" : "<source bridge='br0'/>"
        return "<domain type='test'><name>bw</name><memory>1024</memory><os><type>hvm</type></os><devices>"
            + "<interface type='\(type)'><mac address='52:54:00:00:00:01'/>\(source)\(bandwidth)</interface></devices></domain>"
    }

    static func bandwidthXML(_ type: String, _ bandwidth: String) throws -> String {
        let xml = try DomainDefinition.parse(domain(type, bandwidth)).formatXML()
        guard let start = xml.range(of: "<bandwidth"), let end = xml.range(of: "</bandwidth>") else { return "" }
        return String(xml[start.lowerBound..<end.upperBound])
    }

    @Test("libvirt's normal form: attribute order, blanks and '+', unknown children and zero values dropped")
    func normalForm() throws {
        #expect(try Self.bandwidthXML("network", "<bandwidth><foo/><inbound average=' 7' floor='+3' burst='9' peak='8'/>"
                                        + "<outbound average='5' peak='0'/></bandwidth>") == """
        <bandwidth>
                <inbound average='7' peak='8' floor='3' burst='9'/>
                <outbound average='5'/>
              </bandwidth>
        """)
        // No direction: no bandwidth; a direction with nothing set: an empty element, open and closed.
        #expect(try Self.bandwidthXML("network", "<bandwidth/>") == "")
        #expect(try Self.bandwidthXML("bridge", "<bandwidth><inbound average='0'/></bandwidth>") == "<bandwidth>\n      </bandwidth>")
    }

    @Test("libvirt's parse errors, words and codes")
    func errors() {
        let cases: [(String, String, String)] = [
            ("bridge", "<bandwidth><inbound floor='9'/></bandwidth>", "unsupported configuration: floor attribute is not supported for this config"),
            ("network", "<bandwidth><outbound average='1' floor='2'/></bandwidth>", "unsupported configuration: 'floor' attribute allowed only in <inbound> element"),
            ("network", "<bandwidth classID='3'><inbound average='1'/></bandwidth>", "classID attribute not supported on <bandwidth> in this usage context"),
            ("network", "<bandwidth><inbound peak='5'/></bandwidth>", "Missing mandatory average or floor attributes"),
            ("network", "<bandwidth><inbound floor='5' peak='3'/></bandwidth>", "unsupported configuration: 'peak' and 'burst' require 'average' attribute"),
            ("network", "<bandwidth><outbound average='1'/><outbound average='2'/></bandwidth>", "Only one child <outbound> element allowed"),
            ("bridge", "<bandwidth><inbound average='1' burst='-1'/></bandwidth>", "unsupported configuration: could not convert bandwidth burst value '-1'"),
        ]
        for (type, bw, message) in cases {
            #expect(throws: VirtError.self, "\(bw)") { try DomainDefinition.parse(Self.domain(type, bw)) }
            do {
                _ = try DomainDefinition.parse(Self.domain(type, bw))
            } catch {
                #expect(error.message == message)
                #expect(error.code == (message.hasPrefix("unsupported") ? .configUnsupported : .xmlDetail))
            }
        }
    }

    @Test("the seven parameters, and a set's directions merged as libvirt's drivers merge them")
    func parameters() {
        let bw = NetBandwidth(inbound: NetBandwidthRate(average: 10, peak: 20, floor: 4, burst: 30),
                              outbound: NetBandwidthRate(average: 40))
        #expect(bw.parameters.map(\.field) == ["inbound.average", "inbound.peak", "inbound.burst", "inbound.floor",
                                               "outbound.average", "outbound.peak", "outbound.burst"])
        #expect(bw.parameters.map(\.value) == [.uint(10), .uint(20), .uint(30), .uint(4), .uint(40), .uint(0), .uint(0)])
        // Inbound named with nothing left clears it; outbound not named stays.
        let cleared = bw.merging([TypedParam("inbound.average", .uint(0))])
        #expect(cleared.inbound == nil && cleared.outbound == bw.outbound)
        // Peak alone sets nothing (no average): the direction is left as it was.
        #expect(bw.merging([TypedParam("outbound.peak", .uint(9))]) == bw)
        let replaced = bw.merging([TypedParam("outbound.average", .uint(7)), TypedParam("outbound.burst", .uint(8))])
        #expect(replaced.outbound == NetBandwidthRate(average: 7, burst: 8) && replaced.inbound == bw.inbound)
    }
}
