/// `<iothreadids><iothread id='N'/></iothreadids>`.
public struct IOThreadID: Sendable, Hashable {
    public var id: UInt32
    /// `thread_pool_min`.
    public var threadPoolMin: Int32?
    /// `thread_pool_max`.
    public var threadPoolMax: Int32?
    public init(id: UInt32, threadPoolMin: Int32? = nil, threadPoolMax: Int32? = nil) {
        self.id = id
        self.threadPoolMin = threadPoolMin
        self.threadPoolMax = threadPoolMax
    }
}
