import NIOCore
import NIOEmbedded
import Testing
@testable import VirtRPC
import VirtCore

@Suite("XDR and framing")
struct XDRTests {
    func hex(_ b: ByteBuffer) -> String {
        b.readableBytesView.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            .joined()
    }

    @Test("CONNECT_OPEN call encodes to libvirt's bytes")
    func connectOpenBytes() {
        let b = RPCPacket.encode(RPCHeader(program: RPCProgram.remote, procedure: 1, type: .call, serial: 1)) { w in
            w.optionalString("qemu:///system")
            w.uint(0)
        }
        #expect(hex(b) == "00000038" + "20008086" + "00000001" + "00000001" + "00000000" + "00000001" + "00000000"
                + "00000001" + "0000000e" + "71656d753a2f2f2f73797374656d0000" + "00000000")
    }

    @Test("keepalive ping and lifecycle event message")
    func keepaliveAndEvent() throws {
        let ping = RPCPacket.encode(RPCHeader(program: RPCProgram.keepalive, procedure: 1, type: .message, serial: 0))
        #expect(hex(ping) == "0000001c6b65657000000001000000010000000200000000" + "00000000")
        let uuid = try #require(VirtUUID(string: "6695eb01-f6a4-8304-79aa-97f2502e193f"))
        let ev = DomainEventRecord(domain: DomainRef(name: "demo", uuid: uuid, id: -1),
                                   kind: .lifecycle(.started(.booted)))
        let b = try #require(EventEncoder.callbackMessage(ev, callbackID: 0))
        #expect(hex(b) == "00000044200080860000000100000" + "13e0000000200000001000000000000000000000004" + "64656d6f"
                + "6695eb01f6a4830479aa97f2502e193f" + "ffffffff0000000200000000")
    }

    @Test("strings pad to four bytes and round-trip; chars take four bytes each")
    func stringsAndChars() throws {
        var w = XDRWriter()
        w.string("abcde")
        w.charArray([0x41, 0])
        w.fixedCharArray([0x42], count: 3)
        w.uhyper(1 << 40)
        w.typedParams([TypedParam("state.state", .int(1)), TypedParam("x", .string("y")),
                       TypedParam("d", .double(1.5)), TypedParam("u", .ullong(7))])
        #expect(w.buffer.readableBytes == 12 + 12 + 12 + 8 + 4 + (16 + 8) + (8 + 4 + 8) + (8 + 4 + 8) + (8 + 4 + 8))
        var r = XDRReader(buffer: w.buffer)
        #expect(try r.string() == "abcde")
        #expect(try r.charArray(max: 10) == [0x41, 0])
        #expect(try r.fixedCharArray(count: 3) == [0x42, 0, 0])
        #expect(try r.uhyper() == 1 << 40)
        let ps = try r.typedParams(max: 64)
        #expect(ps.map(\.field) == ["state.state", "x", "d", "u"])
        #expect(ps[2].value == .double(1.5))
        #expect(r.remaining == 0)
    }

    @Test("remote_error round-trips every field")
    func errorRoundTrip() throws {
        let e = VirtError(.noDomain, domain: .test, "Domain not found: no domain with matching name 'x'",
                          str1: "no domain with matching name 'x'", str2: nil, str3: "z", int1: 3, int2: -4)
        var w = XDRWriter()
        w.error(e)
        var r = XDRReader(buffer: w.buffer)
        let back = try r.error()
        #expect(back == e)
        #expect(back.str1 == e.str1 && back.str2 == nil && back.str3 == "z" && back.int1 == 3 && back.int2 == -4)
        #expect(back.level == .error)
        #expect(r.remaining == 0)
    }

    @Test("decoder rejects truncated data and lengths over the limit before allocating")
    func decoderLimits() {
        var r = XDRReader(bytes: [0, 0, 0, 9, 0x61])
        #expect(throws: XDRError.truncated) { try r.string() }
        var r2 = XDRReader(bytes: [0xff, 0xff, 0xff, 0xff])
        #expect(throws: XDRError.tooLong(0xffff_ffff, max: RPCLimits.stringMax)) { try r2.string() }
        var r3 = XDRReader(bytes: [0, 0, 0, 2])
        #expect(throws: XDRError.invalidValue("bool 2")) { try r3.bool() }
        var r4 = XDRReader(bytes: [0, 1, 0, 0])
        #expect(throws: XDRError.truncated) { try r4.count(max: 1 << 20) }
    }

    @Test("framing: short and huge lengths are refused, split packets are joined")
    func framing() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RPCFrameDecoder()))
        let packet = RPCPacket.encode(RPCHeader(program: RPCProgram.remote, procedure: 59, type: .call, serial: 7))
        var first = packet
        let head = first.readSlice(length: 10)!
        try channel.writeInbound(head)
        #expect(try channel.readInbound(as: RPCPacket.self) == nil)
        try channel.writeInbound(first)
        let p = try #require(try channel.readInbound(as: RPCPacket.self))
        #expect(p.header.procedure == 59 && p.header.serial == 7 && p.payload.readableBytes == 0)

        let short = EmbeddedChannel(handler: ByteToMessageHandler(RPCFrameDecoder()))
        #expect(throws: RPCFramingError.lengthTooShort(3)) {
            try short.writeInbound(ByteBuffer(bytes: [0, 0, 0, 3, 0, 0, 0, 0]))
        }
        let huge = EmbeddedChannel(handler: ByteToMessageHandler(RPCFrameDecoder()))
        #expect(throws: RPCFramingError.lengthTooLong(0x7fff_ffff)) {
            try huge.writeInbound(ByteBuffer(bytes: [0x7f, 0xff, 0xff, 0xff]))
        }
    }

    @Test("per-domain job lock serializes holders of the same key")
    func keyedLock() async throws {
        let lock = KeyedAsyncLock<Int>()
        let log = LogBox()
        try await withThrowingTaskGroup(of: Void.self) { g in
            for i in 0..<20 {
                g.addTask {
                    try await lock.withLock(i % 2) {
                        await log.enter(i % 2)
                        await Task.yield()
                        await log.leave(i % 2)
                    }
                }
            }
            try await g.waitForAll()
        }
        #expect(await log.maxConcurrent == 1)
        #expect(lock.heldCount == 0)
    }
}

actor LogBox {
    var inside: [Int: Int] = [:]
    var maxConcurrent = 0
    func enter(_ k: Int) {
        inside[k, default: 0] += 1
        maxConcurrent = max(maxConcurrent, inside[k] ?? 0)
    }
    func leave(_ k: Int) { inside[k, default: 0] -= 1 }
}
