import Virt

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The shell's state while it runs commands: options, output, the connection and the last library error
/// (virsh's `vshControl` with `last_error`).
@MainActor
final class Shell {
    let output = Output()
    let registry: CommandRegistry

    /// `-q`: suppress informational output (virsh's `vshPrintExtra`) and table headers.
    var quiet = false
    /// `-t`: print the time each command took.
    var timing = false
    /// `-r`: open the connection read-only.
    var readOnly = false
    /// Running the interactive prompt (`cd` works only there, as in virsh).
    var interactive = false
    /// The URI named by `-c` or `VIRSH_DEFAULT_CONNECT_URI`; nil to let the library pick the default.
    var connectURI: String?
    /// The open connection, if any.
    var connection: Connection?
    /// The library error of the command being run, reported when the command fails.
    var lastError: VirtError?
    /// Opens a connection other than the shell's own (`migrate`'s destination), read-write as virsh does.
    var openOtherConnection: @MainActor @Sendable (String) async throws -> Connection = { uri in
        try await Connection.open(uri)
    }

    init(registry: CommandRegistry) {
        self.registry = registry
    }

    // MARK: Output

    /// Prints to standard output (virsh's `vshPrint`).
    func print(_ text: String) { output.out(text) }

    /// Prints to standard output unless quiet (virsh's `vshPrintExtra`).
    func printExtra(_ text: String) {
        if !quiet { output.out(text) }
    }

    /// Prints `error: MESSAGE` to standard error (virsh's `vshError`).
    func error(_ message: String) {
        output.err("error: \(message)\n")
    }

    /// Prints the pending library error, if any, and clears it (virsh's `vshReportError`).
    func reportError() {
        if let e = lastError {
            error(e.code == .ok ? "unknown error" : e.message)
        }
        lastError = nil
    }

    /// Runs a library call; a thrown error is kept as the pending library error and nil is returned.
    func call<T>(_ body: () async throws -> T) async -> T? {
        do {
            return try await body()
        } catch let e as VirtError {
            lastError = e
        } catch {
            lastError = VirtError(.internalError, "internal error: \(error)")
        }
        return nil
    }

    // MARK: Connection

    /// Opens the connection (virsh's `virshReconnect`); on failure prints virsh's message and returns false.
    func connect() async -> Bool {
        if connection != nil { return true }
        if let c = await call({ try await Connection.open(connectURI, readOnly: readOnly) }) {
            connection = c
            return true
        }
        error("failed to connect to the hypervisor")
        return false
    }

    /// The open connection. Only valid inside a handler of a command that needs a connection.
    var conn: Connection {
        guard let connection else { preconditionFailure("command run without a connection") }
        return connection
    }

    // MARK: Running

    /// Runs commands in order; returns the result of the last one (virsh's `vshCommandRun`).
    func run(_ commands: [ParsedCommand]) async -> Bool {
        var ok = true
        for command in commands {
            let start = timing ? Self.now() : 0
            var usable = !command.definition.needsConnection
            if !usable { usable = await connect() }
            ok = usable ? await command.definition.handler(self, command) : false
            if !ok { reportError() }
            lastError = nil
            if command.name == "quit" || command.name == "exit" { return ok }
            if timing {
                let ms = Double(Self.now() - start) / 1_000_000
                print("\n(Time: \(Format.fixed(ms, 3)) ms)\n\n")
            } else {
                printExtra("\n")
            }
        }
        return ok
    }

    private static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    // MARK: Helpers shared by commands

    /// Prints virsh's "Options --a and --b are mutually exclusive" when both are given.
    func exclusive(_ command: ParsedCommand, _ a: String, _ b: String) -> Bool {
        if command.has(a) && command.has(b) {
            error("Options --\(a) and --\(b) are mutually exclusive")
            return false
        }
        return true
    }

    /// A string option's value; nil with `ok` when absent, an error when empty (`vshCommandOptStringReq`).
    func stringOption(_ command: ParsedCommand, _ name: String) -> (ok: Bool, value: String?) {
        guard let value = command.value(name) else { return (true, nil) }
        if value.isEmpty,
           !(command.definition.options.first { $0.name == name }?.emptyOK ?? false) {
            error("Failed to get option '\(name)': Option argument is empty")
            return (false, nil)
        }
        return (true, value)
    }

    struct LookupKinds: OptionSet {
        let rawValue: Int
        static let id = LookupKinds(rawValue: 1)
        static let uuid = LookupKinds(rawValue: 2)
        static let name = LookupKinds(rawValue: 4)
        static let all: LookupKinds = [.id, .uuid, .name]
    }

    /// Looks the domain up by id, UUID or name, as virsh's `virshLookupDomainBy` does.
    func lookupDomain(_ text: String, by kinds: LookupKinds = .all) async -> Domain? {
        var found: Domain?
        if kinds.contains(.id), let id = Format.parseInt32(text), id >= 0 {
            found = await call { try await conn.lookupDomain(id: id) }
        }
        if found == nil, kinds.contains(.uuid), text.utf8.count == 36 {
            if let uuid = VirtUUID(string: text) {
                found = await call { try await conn.lookupDomain(uuid: uuid) }
            }
        }
        if found == nil, kinds.contains(.name) {
            found = await call { try await conn.lookupDomain(name: text) }
        }
        lastError = nil
        if found == nil { error("failed to get domain '\(text)'") }
        return found
    }

    /// The domain named by the command's `--domain` option (`virshCommandOptDomainBy`).
    func domainOption(_ command: ParsedCommand, by kinds: LookupKinds = .all,
                      option: String = "domain") async -> Domain? {
        let (ok, value) = stringOption(command, option)
        guard ok else { return nil }
        guard let value else {
            error("Failed to get option '\(option)': Mandatory option not present")
            return nil
        }
        return await lookupDomain(value, by: kinds)
    }

    /// Reads a whole file as bytes (`virFileReadAll`); on failure sets virsh's library error.
    func readFileBytes(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            lastError = VirtError.systemError("Failed to open file '\(path)'", errno: errno)
            return nil
        }
        defer { close(fd) }
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
            if n < 0 {
                if errno == EINTR { continue }
                lastError = VirtError.systemError("Failed to read file '\(path)'", errno: errno)
                return nil
            }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
            if data.count > 10_000_000 {
                lastError = VirtError(.internalError, "internal error: file '\(path)' too large")
                return nil
            }
        }
        return data
    }

    /// Writes everything `stream` sends into `fd` (virsh's virshStreamSink); false, with the stream aborted,
    /// when receiving or writing fails (the caller names what failed).
    func receive(_ stream: any ByteStream, into fd: Int32) async -> Bool {
        while true {
            guard let chunk = await call({ try await stream.read() }) else {
                await stream.abort()
                return false
            }
            guard let bytes = chunk, !bytes.isEmpty else { return true }
            var off = 0
            while off < bytes.count {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + off }, bytes.count - off) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 {
                    await stream.abort()
                    return false
                }
                off += n
            }
        }
    }

    /// Reads a whole file as text (`virFileReadAll`); on failure sets virsh's library error.
    func readFile(_ path: String) -> String? {
        readFileBytes(path).map { String(decoding: $0, as: UTF8.self) }
    }
}
