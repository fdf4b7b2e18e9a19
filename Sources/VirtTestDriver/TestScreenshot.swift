import Synchronization
import VirtCore

/// The test driver's screenshot, as libvirt's: a PNG on a stream, for any domain (running or not). libvirt's
/// test driver sends a picture it installs; ours is drawn here (a grey gradient), so only the MIME type and the
/// image format are libvirt's.
extension TestDriver {
    public func screenshot(_ domain: DomainRef, screen: UInt32, flags: UInt32) async throws
        -> (mime: String, stream: any ByteStream) {
        _ = try await lookupDomain(uuid: domain.uuid)
        return ("image/png", BytesStream(TestScreenshot.png))
    }
}

/// A PNG made without a compressor: 8-bit greyscale rows in stored (uncompressed) deflate blocks.
enum TestScreenshot {
    static let width = 160, height = 120

    static let png: [UInt8] = {
        var raw: [UInt8] = []
        for y in 0..<height {
            raw.append(0)  // filter: none
            for x in 0..<width { raw.append(UInt8(truncatingIfNeeded: (x + y) * 255 / (width + height))) }
        }
        var z: [UInt8] = [0x78, 0x01]
        var i = 0
        while i < raw.count {
            let n = min(65535, raw.count - i)
            z.append(i + n == raw.count ? 1 : 0)
            z += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            z += raw[i..<(i + n)]
            i += n
        }
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        z += be32(b << 16 | a)
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        out += chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [8, 0, 0, 0, 0])
        out += chunk("IDAT", z)
        out += chunk("IEND", [])
        return out
    }()

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            c ^= UInt32(byte)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }
}

/// A read-only stream over bytes in memory.
final class BytesStream: ByteStream {
    private let left: Mutex<[UInt8]?>

    init(_ bytes: [UInt8]) { left = Mutex(bytes) }

    func read() async throws -> [UInt8]? {
        left.withLock { l in
            guard let all = l, !all.isEmpty else { l = nil; return nil }
            let n = min(65536, all.count)
            l = Array(all.dropFirst(n))
            return Array(all.prefix(n))
        }
    }
    func write(_ bytes: [UInt8]) async throws {
        throw VirtError(.rpc, domain: .streams, "stream is not writable")
    }
    func finish() async throws {}
    func abort() async { left.withLock { $0 = nil } }
}
