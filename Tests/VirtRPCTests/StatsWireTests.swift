import NIOCore
import Testing
@testable import VirtRPC
import VirtCore

/// The wire forms of the statistics, pinning and metadata procedures (remote_protocol.x) and libvirt's CPU map
/// layout.
@Suite("stats and pinning wire types")
struct StatsWireTests {
    func roundTrip<T: XDRCodable & Equatable>(_ v: T) throws -> T {
        var w = XDRWriter()
        v.encode(xdr: &w)
        var r = XDRReader(buffer: w.buffer)
        let back = try T(xdr: &r)
        #expect(r.remaining == 0)
        return back
    }

    func bytes(_ v: some XDRCodable) -> [UInt8] {
        var w = XDRWriter()
        v.encode(xdr: &w)
        return Array(w.buffer.readableBytesView)
    }

    @Test("block and interface counters are hypers in libvirt's order; -1 survives")
    func counters() throws {
        let b = BlockStats(rdReq: 1, rdBytes: 2, wrReq: 3, wrBytes: 4, errs: -1)
        #expect(try roundTrip(b) == b)
        #expect(bytes(b).count == 40)
        #expect(Array(bytes(b).suffix(8)) == [UInt8](repeating: 0xFF, count: 8))
        let i = InterfaceStats(rxBytes: 1, rxPackets: 2, rxErrs: 3, rxDrop: 4, txBytes: 5, txPackets: 6, txErrs: 7,
                               txDrop: 8)
        #expect(try roundTrip(i) == i)
        #expect(bytes(i)[7] == 1 && bytes(i)[63] == 8)
    }

    @Test("block info is allocation, capacity, physical on the wire")
    func blockInfo() throws {
        let info = BlockInfo(capacity: 2, allocation: 1, physical: 3)
        #expect(try roundTrip(info) == info)
        let b = bytes(info)
        #expect(b[7] == 1 && b[15] == 2 && b[23] == 3)
    }

    @Test("vCPU info, memory stats and metadata arguments round-trip")
    func records() throws {
        let v = VcpuInfo(number: 1, state: 1, cpuTime: 123_456_789, cpu: 0)
        #expect(try roundTrip(v) == v)
        #expect(bytes(v).count == 20)
        let m = MemoryStat(tag: MemoryStat.rss, value: 4096)
        #expect(try roundTrip(m) == m)
        let uuid = try #require(VirtUUID(string: "6695eb01-f6a4-8304-79aa-97f2502e193f"))
        let args = SetMetadataArgs(domain: DomainRef(name: "d", uuid: uuid, id: 3), type: 2, metadata: "<a/>",
                                   key: "k", uri: nil, flags: 2)
        var w = XDRWriter()
        args.encode(xdr: &w)
        var r = XDRReader(buffer: w.buffer)
        let back = try SetMetadataArgs(xdr: &r)
        #expect(back.domain == args.domain && back.type == 2 && back.metadata == "<a/>" && back.key == "k"
                && back.uri == nil && back.flags == 2)
    }

    @Test("CPU maps: CPU n is bit n % 8 of byte n / 8")
    func cpuMaps() throws {
        let set = try CPUSet(parsing: "0,3,8-9")
        let map = CPUMap.bytes(set, length: 2)
        #expect(map == [0b0000_1001, 0b0000_0011])
        #expect(CPUMap.set(map) == set)
        #expect(CPUMap.bytes(set, length: 1) == [0b0000_1001])
        #expect(CPUMap.all(cpus: 10, length: 2) == [0xFF, 0x03])
        #expect(CPUMap.length(cpus: 8) == 1 && CPUMap.length(cpus: 9) == 2)
        #expect(NodeInfo(model: "x", memory: 1, cpus: 16, mhz: 1, nodes: 2, sockets: 2, cores: 2, threads: 2).maxCPUs == 16)
    }
}
