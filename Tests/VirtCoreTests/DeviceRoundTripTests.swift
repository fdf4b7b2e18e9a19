import Foundation
import Testing
@testable import VirtCore

/// What SwiftVirt writes for every accepted conformance input can be defined again (`define` of a `dumpxml`
/// output), keeping generated values. Formatting is not always a fixed point, exactly as in libvirt (a virtio
/// console after the serial console gets port 1 on the second round; implicit controllers move into sorted
/// position): XMLConformanceTests compares the second round with libvirt's.
@Suite struct DeviceRoundTripTests {
    static let resources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Resources/conformance")

    static func inputs() throws -> [URL] {
        var out: [URL] = []
        guard let e = FileManager.default.enumerator(at: resources, includingPropertiesForKeys: nil) else {
            return out
        }
        for case let u as URL in e where u.pathExtension == "xml" { out.append(u) }
        return out.sorted { $0.path < $1.path }
    }

    @Test func formattedDevicesParseAgain() throws {
        let files = try Self.inputs()
        #expect(files.count > 50)
        var checked = 0
        for f in files {
            let text = try String(contentsOf: f, encoding: .utf8)
            guard let root = try? XMLParser.parse(text), root.name == "domain", let d = root.child("devices"),
                  let first = try? DomainDevices.parse(d, options: DomainParseOptions()) else { continue }
            var w1 = XMLWriter(indent: 2)
            first.format(into: &w1, options: DomainFormatOptions())
            let reparsed = try XMLParser.parse(w1.output)
            let second = try DomainDevices.parse(reparsed, options: DomainParseOptions())
            #expect(first.disks.count == second.disks.count && first.videos == second.videos, "\(f.lastPathComponent)")
            // Generated values (MAC addresses, Open vSwitch ids) are fixed by the first format.
            #expect(first.interfaces.map(\.mac) == second.interfaces.map(\.mac), "\(f.lastPathComponent)")
            checked += 1
        }
        #expect(checked > 50)
    }
}
