import CSpawn
import Foundation
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The host's neighbour table as libvirt's ARP address source reads it (virArpTableGet): an rtnetlink dump of
/// RTM_NEWNEIGH messages, of which only IPv4 entries in state REACHABLE or STALE (or no state) with both a
/// destination and a link-layer address count. /proc/net/arp cannot tell those states from DELAY or PROBE
/// and lists permanent entries too, so the table is read over netlink as libvirt does.
struct NeighbourEntry: Sendable, Hashable {
    /// `ndm_family` (AF_INET 2, AF_INET6 10).
    var family: UInt8
    /// `ndm_state` (NUD_INCOMPLETE 0x01, REACHABLE 0x02, STALE 0x04, DELAY 0x08, PROBE 0x10, FAILED 0x20,
    /// NOARP 0x40, PERMANENT 0x80).
    var state: UInt16
    var ifindex: Int32
    /// NDA_DST's bytes (4 for IPv4), nil when the message has none.
    var destination: [UInt8]?
    /// NDA_LLADDR's bytes, nil when the message has none (the kernel sends it only for valid entries).
    var linkAddress: [UInt8]?

    static let inet: UInt8 = 2
    static let reachable: UInt16 = 0x02
    static let stale: UInt16 = 0x04

    /// Whether libvirt's table keeps this entry, and then its (IPv4 address, MAC) as libvirt formats them.
    var arpEntry: (ip: String, mac: String)? {
        guard family == 0 || family == Self.inet else { return nil }
        guard state == 0 || state == Self.reachable || state == Self.stale else { return nil }
        guard let dst = destination, dst.count >= 4, let ll = linkAddress, ll.count >= 6 else { return nil }
        let ip = dst.prefix(4).map { String($0) }.joined(separator: ".")
        let mac = ll.prefix(6).map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            .joined(separator: ":")
        return (ip, mac)
    }
}

enum NeighbourTable {
    static let nlmsgDone: UInt16 = 3
    static let nlmsgError: UInt16 = 2
    static let rtmNewNeigh: UInt16 = 28
    static let ndaDst: UInt16 = 1
    static let ndaLLAddr: UInt16 = 2

    private static func u16(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt16 {
        UInt16(b[b.startIndex + at]) | UInt16(b[b.startIndex + at + 1]) << 8
    }

    private static func u32(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[b.startIndex + at + $1]) << (8 * UInt32($1)) }
    }

    private static func align(_ n: Int) -> Int { (n + 3) & ~3 }

    /// The RTM_NEWNEIGH messages of a dump (host byte order, little-endian), in the kernel's order, up to
    /// NLMSG_DONE. A truncated message, or an NLMSG_ERROR with an error code, is an internal error.
    static func parse(_ bytes: [UInt8]) throws(VirtError) -> [NeighbourEntry] {
        var out: [NeighbourEntry] = []
        var off = 0
        while off + 16 <= bytes.count {
            let header = bytes[off...]
            let len = Int(u32(header, 0))
            let type = u16(header, 4)
            guard len >= 16, off + len <= bytes.count else {
                throw VirtError.internalError("wrong nlmsg len")
            }
            if type == nlmsgDone { break }
            if type == nlmsgError {
                let code = len >= 20 ? Int32(bitPattern: u32(header, 16)) : 0
                if code != 0 {
                    throw VirtError.internalError("error in netlink response: \(String(cString: strerror(-code)))")
                }
                break
            }
            // struct ndmsg: family u8, pad u8, pad u16, ifindex s32, state u16, flags u8, type u8 (12 bytes).
            if type == rtmNewNeigh, len >= 28 {
                let msg = bytes[off..<(off + len)]
                var entry = NeighbourEntry(family: msg[msg.startIndex + 16], state: u16(msg, 24),
                                           ifindex: Int32(bitPattern: u32(msg, 20)))
                var a = 28
                while a + 4 <= len {
                    let alen = Int(u16(msg, a))
                    let atype = u16(msg, a + 2) & 0x3fff
                    guard alen >= 4, a + alen <= len else { break }
                    let data = Array(msg[(msg.startIndex + a + 4)..<(msg.startIndex + a + alen)])
                    if atype == ndaDst, entry.destination == nil { entry.destination = data }
                    if atype == ndaLLAddr, entry.linkAddress == nil { entry.linkAddress = data }
                    a += align(alen)
                }
                out.append(entry)
            }
            off += align(len)
        }
        return out
    }

    /// The current namespace's neighbour table.
    static func read() throws(VirtError) -> [NeighbourEntry] {
        var buf: UnsafeMutablePointer<UInt8>?
        var len = 0
        guard swiftvirt_neigh_dump(&buf, &len) == 0 else {
            let e = errno
            throw VirtError.internalError("unable to read the host's neighbour table: \(String(cString: strerror(e)))")
        }
        defer { free(buf) }
        let bytes = buf.map { Array(UnsafeBufferPointer(start: $0, count: len)) } ?? []
        return try parse(bytes)
    }
}

extension NeighbourEntry {
    init(family: UInt8, state: UInt16, ifindex: Int32) {
        self.init(family: family, state: state, ifindex: ifindex, destination: nil, linkAddress: nil)
    }
}
