/// `<devices>`.
public struct DomainDevices: Sendable, Hashable {
    public var emulator: String?
    public init(emulator: String? = nil) {
        self.emulator = emulator
    }
}
