/// A bidirectional byte stream between a client and a driver (libvirt's `virStream`): console data, save
/// images, migration tunnels.
public protocol ByteStream: Sendable {
    /// The next chunk of bytes, or nil at end of stream.
    func read() async throws -> [UInt8]?
    /// Sends bytes to the other end.
    func write(_ bytes: [UInt8]) async throws
    /// Ends the stream normally.
    func finish() async throws
    /// Ends the stream with an error.
    func abort() async
    /// Ends the stream normally and waits until the other end confirms it (libvirt's `virStreamFinish` on an
    /// upload: an error the other end met on the data comes back here).
    func finishConfirmed() async throws
    /// Whether ``readSparse()`` reports holes (a sparse volume download).
    var sparse: Bool { get }
    /// The next chunk of data or the length of the hole that comes next; nil at end of stream.
    func readSparse() async throws -> StreamChunk?
    /// A hole the other end sent (a sparse upload): `length` bytes of zeros not sent.
    func writeHole(_ length: UInt64) async throws
}

/// What a sparse stream carries: bytes, or a run of zeros not sent (libvirt's STREAM_HOLE).
public enum StreamChunk: Sendable, Equatable {
    case data([UInt8])
    case hole(UInt64)
}

extension ByteStream {
    public func finishConfirmed() async throws { try await finish() }
    public var sparse: Bool { false }
    public func readSparse() async throws -> StreamChunk? { try await read().map { .data($0) } }
    public func writeHole(_ length: UInt64) async throws {
        throw VirtError(.rpc, domain: .streams, "stream does not support holes")
    }
}
