import Foundation
import Testing
import VirtTestSupport
@testable import VirtQEMU

/// The relative backing name a commit or pull keeps (libvirt's virStorageSourceGetRelativeBackingPath): each
/// image's relative name is taken from the directory of the one above it; an absolute name anywhere gives none.
@Suite struct QEMUBackingRelativeTests {
    @Test func namesJoinedFromTheDirectoryAbove() {
        // top → "sub/mid.qcow2" → "../base/b.qcow2" → none.
        let strings: [String?] = ["sub/mid.qcow2", "../base/b.qcow2", nil]
        #expect(QEMUBackingChain.relativeName(strings: strings, from: 1, to: 1) == "sub/mid.qcow2")
        #expect(QEMUBackingChain.relativeName(strings: strings, from: 1, to: 2) == "sub/../base/b.qcow2")
        #expect(QEMUBackingChain.relativeName(strings: strings, from: 2, to: 2) == "../base/b.qcow2")
        #expect(QEMUBackingChain.relativeName(strings: ["mid.qcow2", "base.qcow2", nil], from: 1, to: 2) == "base.qcow2")
    }

    @Test func absoluteOrMissingNamesKeepNothing() {
        #expect(QEMUBackingChain.relativeName(strings: ["mid.qcow2", "/images/base.qcow2", nil], from: 1, to: 2) == nil)
        #expect(QEMUBackingChain.relativeName(strings: ["nbd://host/export", nil], from: 1, to: 1) == nil)
        #expect(QEMUBackingChain.relativeName(strings: ["mid.qcow2", nil], from: 1, to: 2) == nil)
        #expect(QEMUBackingChain.relativeName(strings: ["mid.qcow2"], from: 0, to: 1) == nil)
    }

    @Test func dumpFileNameIsShortNameAndLocalTime() {
        var c = DateComponents()
        c.year = 2026; c.month = 12; c.day = 5; c.hour = 9; c.minute = 7; c.second = 3
        c.timeZone = TimeZone.current
        let date = Calendar(identifier: .gregorian).date(from: c) ?? Date()
        #expect(QEMUDomainObject.autoDumpFileName(shortName: QEMUDriverPaths.shortName(id: 3, name: "guest"), date: date)
                == "3-guest-2026-12-05-09:07:03")
    }
}
