import Foundation
import Testing
import VirtTestSupport
@testable import VirtCore

/// Metadata get/set compared with libvirt 9.0: the same operations run through python3-libvirt on the test
/// driver's built-in domain (persistent config) and on SwiftVirt's model of its XML.
@Suite struct DomainXMLMetadataTests {
    /// (operation, type, value, key, uri): "set" or "get".
    static let steps: [(String, Int32, String?, String?, String?)] = [
        ("get", 2, nil, nil, "http://x.org/"),
        ("get", 1, nil, nil, nil),
        ("set", 2, "<a foo=\"1\"><b>t</b><c/></a>", "k", "http://x.org/"),
        ("get", 2, nil, nil, "http://x.org/"),
        ("set", 2, "<yy/>", "y", "http://y.org/"),
        ("set", 2, "<a xmlns:p='http://p/'><p:b x='1'>text &amp; more</p:b><!--c--></a>", "k2", "http://x.org/"),
        ("get", 2, nil, nil, "http://x.org/"),
        ("set", 2, "<a>", "k", "http://z.org/"),
        ("set", 2, "text", "k", "http://z.org/"),
        ("set", 2, "<a/>", nil, "http://z.org/"),
        ("set", 2, "<a/>", "1k", "http://z.org/"),
        ("set", 2, "<a/>", "k", nil),
        ("get", 2, nil, nil, nil),
        ("set", 1, "a\nb", nil, nil),
        ("set", 1, "T <&>", nil, nil),
        ("set", 0, "  D  ", nil, nil),
        ("get", 0, nil, nil, nil),
        ("set", 1, "x", "k", "http://x.org/"),
        ("set", 2, nil, nil, "http://y.org/"),
        ("set", 2, nil, nil, "http://none.org/"),
        ("get", 2, nil, nil, "http://y.org/"),
        ("set", 1, "", nil, nil),
        ("get", 1, nil, nil, nil),
    ]

    static func reference(defining xml: String? = nil, steps: [(String, Int32, String?, String?, String?)] = steps)
        throws -> (results: [String], xml: String) {
        let script = """
            import json, sys, libvirt
            libvirt.registerErrorHandler(lambda c, e: None, None)
            conn = libvirt.open('test:///default')
            d = conn.defineXML(sys.argv[2]) if len(sys.argv) > 2 else conn.lookupByName('test')
            C = libvirt.VIR_DOMAIN_AFFECT_CONFIG
            out = []
            for op, t, value, key, uri in json.loads(sys.argv[1]):
                try:
                    if op == 'get':
                        out.append('ok ' + d.metadata(t, uri, C))
                    else:
                        d.setMetadata(t, value, key, uri, C)
                        out.append('ok')
                except libvirt.libvirtError as e:
                    out.append('%d %d %s' % (e.get_error_code(), e.get_error_domain(), e.get_error_message()))
            print(json.dumps({'results': out, 'xml': d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)}))
            """
        let stepsJSON = try JSONSerialization.data(withJSONObject: steps.map { [$0.0, $0.1, $0.2 as Any, $0.3 as Any, $0.4 as Any] })
        let r = try ChildProcess.run(["/usr/bin/python3", "-c", script, String(decoding: stepsJSON, as: UTF8.self)]
                                     + (xml.map { [$0] } ?? []))
        if !r.stderr.isEmpty { print(r.stderr, terminator: "") }
        let data = Data(r.stdout.utf8)
        let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return (try #require(obj["results"] as? [String]), try #require(obj["xml"] as? String))
    }

    @Test func metadataOperationsMatchLibvirt() throws {
        let (refResults, refXML) = try Self.reference()
        // Start from libvirt's built-in test domain without the metadata we are about to set.
        var def = try DomainDefinition.parse(refXML)
        def.metadata = nil
        def.title = nil
        def.description = nil
        var ours: [String] = []
        for (op, t, value, key, uri) in Self.steps {
            let type = try #require(DomainMetadataType(rawValue: t))
            do {
                if op == "get" {
                    ours.append("ok " + (try def.metadataValue(type, uri: uri)))
                } else {
                    try def.setMetadata(type, value: value, key: key, uri: uri)
                    ours.append("ok")
                }
            } catch {
                ours.append("\(error.code.rawValue) \(error.domain.rawValue) \(error.message)")
            }
        }
        #expect(refResults.count == Self.steps.count)
        for (i, (r, o)) in zip(refResults, ours).enumerated() {
            #expect(r == o, "step \(i) \(Self.steps[i])")
        }
        def.applyDefaults(for: .test)
        #expect(def.formatXML() == refXML)
    }

    @Test func metadataNamespacesDeclaredOnAncestors() throws {
        let xml = """
            <domain type='test' xmlns:app="http://app.org/">
              <name>meta-ns</name>
              <metadata xmlns:m="http://m.org/">
                <app:foo attr="v"><app:bar/><m:in/></app:foo>
                <m:x><m:y/></m:x>
              </metadata>
              <memory>1024</memory>
              <os><type>hvm</type></os>
            </domain>
            """
        let steps: [(String, Int32, String?, String?, String?)] = [
            ("get", 2, nil, nil, "http://app.org/"),
            ("get", 2, nil, nil, "http://m.org/"),
            ("set", 2, "<new/>", "n", "http://m.org/"),
            ("get", 2, nil, nil, "http://m.org/"),
        ]
        let (refResults, refXML) = try Self.reference(defining: xml, steps: steps)
        var def = try DomainDefinition.parse(xml)
        def.applyDefaults(for: .test)
        var ours: [String] = []
        for (op, t, value, key, uri) in steps {
            let type = try #require(DomainMetadataType(rawValue: t))
            do {
                if op == "get" {
                    ours.append("ok " + (try def.metadataValue(type, uri: uri)))
                } else {
                    try def.setMetadata(type, value: value, key: key, uri: uri)
                    ours.append("ok")
                }
            } catch {
                ours.append("\(error.code.rawValue) \(error.domain.rawValue) \(error.message)")
            }
        }
        #expect(ours == refResults)
        #expect(def.formatXML().replacingOccurrences(of: def.uuid.description, with: "U")
            == refXML.replacingOccurrences(of: def.uuid.description, with: "U").replacing(
                /<uuid>[0-9a-f-]+<\/uuid>/, with: "<uuid>U</uuid>"))
    }
}
