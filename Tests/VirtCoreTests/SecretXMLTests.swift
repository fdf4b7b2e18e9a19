import Testing
import VirtCore

/// libvirt's `<secret>` XML (secret_conf.c) and GLib-compatible base64.
@Suite("secret XML and base64")
struct SecretXMLTests {
    @Test("every usage type parses and formats as libvirt's virSecretDefFormat")
    func roundTrip() throws {
        for (usage, inner) in [("volume", "<volume>/a b</volume>"), ("ceph", "<name>client.x</name>"),
                               ("iscsi", "<target>t</target>"), ("tls", "<name>n</name>"), ("vtpm", "<name>v</name>")] {
            let xml = """
                <secret ephemeral='yes' private='no'>
                  <uuid>0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f</uuid>
                  <description>d &amp; &apos;q&apos;</description>
                  <usage type='\(usage)'>
                    \(inner)
                  </usage>
                </secret>

                """
            let def = try SecretDefinition(xml: xml)
            #expect(def.xml == xml)
            #expect(def.usage.typeName == usage)
            #expect(SecretUsage(type: def.usage.type, id: def.usage.id) == def.usage)
        }
        let bare = try SecretDefinition(xml: "<secret><usage type='none'/></secret>")
        #expect(bare.usage == .none && !bare.ephemeral && !bare.isPrivate && bare.description == nil)
        #expect(bare.xml == "<secret ephemeral='no' private='no'>\n  <uuid>\(bare.uuid)</uuid>\n</secret>\n")
        #expect(try SecretDefinition(xml: "<secret/>").uuid != bare.uuid)  // a fresh UUID each time
    }

    @Test("refusals in libvirt's words and codes")
    func errors() {
        let cases: [(String, VirtError.Code, String)] = [
            ("<secret><usage type='bogus'/></secret>", .configUnsupported, "unsupported configuration: unknown secret usage type bogus"),
            ("<secret><usage/></secret>", .xmlError, "XML error: unknown secret usage type"),
            ("<secret><usage type='volume'/></secret>", .internalError, "internal error: volume usage specified, but volume path is missing"),
            ("<secret><usage type='iscsi'/></secret>", .internalError, "internal error: iSCSI usage specified, but target is missing"),
            ("<secret><uuid>x</uuid></secret>", .internalError, "internal error: malformed uuid element"),
            ("<secret private='1'/>", .xmlError, "XML error: invalid value of 'private'"),
            ("<notsecret/>", .xmlError, "XML error: expecting root element of 'secret', not 'notsecret'"),
            ("<secret>\n  <usage>\n</secret>", .xmlDetail, "(definition_of_secret):3: Opening and ending tag mismatch: usage line 2 and secret"),
        ]
        for (xml, code, message) in cases {
            do {
                _ = try SecretDefinition(xml: xml)
                Issue.record("accepted \(xml)")
            } catch {
                #expect(error.code == code, "\(xml): \(error.code)")
                #expect(error.message.hasPrefix(message), "\(xml): \(error.message)")
                #expect(error.domain == .secret)
            }
        }
    }

    @Test("base64 encodes as RFC 4648 and decodes as GLib: junk skipped, groups of four, a short tail dropped")
    func base64() {
        #expect(Base64.encode(Array("secret".utf8)) == "c2VjcmV0")
        #expect(Base64.encode([0]) == "AA==" && Base64.encode([0, 1]) == "AAE=" && Base64.encode([]) == "")
        #expect(Base64.decode("c2VjcmV0") == Array("secret".utf8))
        #expect(Base64.decode("AA==") == [0] && Base64.decode("AAE=") == [0, 1])
        #expect(Base64.decode("YWJj\nAWRl Zg==") == Array("abc\u{1}def".utf8))
        #expect(Base64.decode("abc") == [])
        #expect(Base64.encode(Base64.decode("not base64!")) == "notbase6")
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
    }
}
