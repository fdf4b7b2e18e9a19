import Foundation
import Testing
import VirtCore
import VirtTestSupport
@testable import VirtQEMU

/// libvirt's QEMU save image header and data area, without QEMU: what is written reads back, and bad
/// headers are refused in libvirt's words before anything large is allocated.
@Suite("QEMU save image format")
struct QEMUSaveImageTests {
    static func write(_ bytes: [UInt8], _ dir: String, _ name: String) -> String {
        let path = dir + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    static func error(_ path: String) -> String {
        do {
            _ = try QEMUSaveImage.read(path: path)
            return "read"
        } catch {
            return error.message
        }
    }

    @Test("an image reads back: XML, cookie, state, and the stream's offset")
    func roundTrip() async throws {
        try await TestPaths.withTempDir("img") { dir in
            let img = QEMUSaveImage(xml: "<domain/>", cookie: QEMUSaveImage.emptyCookie, wasRunning: false)
            let bytes = try img.encoded(final: true)
            #expect(bytes.count == QEMUSaveImage.headerSize + img.dataLength)
            #expect(Array(bytes[0..<16]) == Array("LibvirtQemudSave".utf8))
            let path = Self.write(bytes + [1, 2, 3], dir, "ok.save")
            let back = try QEMUSaveImage.read(path: path)
            #expect(back.xml == "<domain/>" && back.cookie == QEMUSaveImage.emptyCookie && !back.wasRunning)
            #expect(back.streamOffset == bytes.count)
        }
    }

    @Test("partial magic, foreign magic, short header, a data length past the end: libvirt's errors")
    func badHeaders() async throws {
        try await TestPaths.withTempDir("img") { dir in
            let img = QEMUSaveImage(xml: "<domain/>", cookie: "", wasRunning: true)
            #expect(Self.error(Self.write(try img.encoded(final: false), dir, "p")).hasSuffix("save image is incomplete"))
            #expect(Self.error(Self.write([UInt8](repeating: 0, count: 200), dir, "z"))
                        .hasSuffix("image magic is incorrect"))
            #expect(Self.error(Self.write(Array("LibvirtQemudSave".utf8), dir, "s"))
                        .hasSuffix("failed to read qemu header"))
            var huge = try img.encoded(final: true)
            huge.replaceSubrange(20..<24, with: [0x00, 0x00, 0xff, 0xff])  // data length 0xffff0000
            #expect(Self.error(Self.write(Array(huge.prefix(200)), dir, "h")).hasSuffix("failed to read domain XML"))
        }
    }

    @Test("a new definition that does not fit the image's data area is refused")
    func tooLarge() throws {
        var img = QEMUSaveImage(xml: "<domain/>", cookie: "", wasRunning: true)
        img.xml = String(repeating: "x", count: img.dataLength)
        #expect(throws: VirtError.self) { _ = try img.encoded(final: true) }
    }
}
