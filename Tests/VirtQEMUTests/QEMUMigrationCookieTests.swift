import Foundation
import Testing
import VirtCore
@testable import VirtQEMU

/// libvirt's migration cookie (facts file section 3): element order, NUL termination, parse checks.
@Suite("migration cookie")
struct QEMUMigrationCookieTests {
    static let uuid = VirtUUID(string: "c7a5fdbd-edaf-9455-926a-d65c16db1809")!
    static let hostA = VirtUUID(string: "11111111-2222-3333-4444-555555555555")!
    static let hostB = VirtUUID(string: "66666666-7777-8888-9999-000000000000")!

    @Test("round trip in libvirt's element order, NUL-terminated")
    func roundTrip() throws {
        var c = QEMUMigrationCookie(name: "guest", uuid: Self.uuid, hostname: "hosta", hostUUID: Self.hostA)
        c.features = ["persistent"]
        c.persistentXML = "<domain type='qemu'>\n  <name>guest</name>\n</domain>\n"
        c.nbd = QEMUMigrationCookie.NBD(port: 49153, disks: [.init(target: "vda", capacity: 1 << 30)])
        c.statistics = QEMUMigrationCookie.Statistics(started: 1, stopped: 2, sent: 3, delta: nil,
                                                      values: [("time_elapsed", 40), ("downtime", 5)])
        c.capabilities = [("xbzrle", false), ("pause-before-switchover", true)]
        let bytes = c.encoded()
        #expect(bytes.last == 0)
        let text = String(decoding: bytes.dropLast(), as: UTF8.self)
        let order = ["<name>", "<uuid>", "<hostname>", "<hostuuid>", "<feature name='persistent'/>", "<domain",
                     "<nbd port='49153'>", "<statistics>", "<capabilities>"]
        var last = text.startIndex
        for tag in order {
            let r = try #require(text.range(of: tag, range: last..<text.endIndex), "\(tag) in order: \(text)")
            last = r.upperBound
        }
        #expect(text.contains("<cap name='pause-before-switchover' auto='yes'/>"))
        var back = try QEMUMigrationCookie.decode(bytes, expectName: "guest", expectUUID: Self.uuid,
                                                  localHostUUID: Self.hostB)
        // The persistent definition comes back as an element (re-indented): the same domain.
        let def = try XMLParser.parse(try #require(back.persistentXML))
        #expect(def.name == "domain" && def.childText("name") == "guest")
        back.persistentXML = c.persistentXML
        #expect(back == c)
    }

    @Test("libvirt's refusals: no NUL, other domain, same host, unknown mandatory feature")
    func refusals() {
        let c = QEMUMigrationCookie(name: "guest", uuid: Self.uuid, hostname: "hosta", hostUUID: Self.hostA)
        let bytes = c.encoded()
        func message(_ b: [UInt8], name: String? = nil, local: VirtUUID? = nil) -> String {
            do {
                _ = try QEMUMigrationCookie.decode(b, expectName: name, localHostUUID: local)
                return "accepted"
            } catch {
                return error.message
            }
        }
        #expect(message(Array(bytes.dropLast())) == "internal error: Migration cookie was not NULL terminated")
        #expect(message(bytes, name: "other") == "internal error: Incoming cookie data had unexpected name guest vs other")
        #expect(message(bytes, local: Self.hostA)
                == "internal error: Attempt to migrate guest to the same host 11111111-2222-3333-4444-555555555555")
        let withUnknown = Array(String(decoding: bytes.dropLast(), as: UTF8.self)
            .replacingOccurrences(of: "</hostuuid>", with: "</hostuuid>\n  <feature name='teleport'/>").utf8) + [0]
        #expect(message(withUnknown) == "internal error: Unknown migration cookie feature teleport")
        #expect(message(bytes, local: Self.hostB) == "accepted")
    }
}
