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
}

extension ByteStream {
    public func finishConfirmed() async throws { try await finish() }
}
