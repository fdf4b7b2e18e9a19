import Foundation
import Virt
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Attaching to a domain's console (`console`, `start --console`, `create --console`), as virsh's
/// `virshRunConsole`: raw terminal when stdin is a tty, guest output to stdout, ^] leaves.
enum ConsoleSupport {
    static let escape: UInt8 = 0x1d

    @MainActor
    static func attach(_ shell: Shell, _ domain: Domain, device: String? = nil, flags: UInt32 = 0) async -> Bool {
        guard let stream = await shell.call({ try await domain.openConsole(device: device, flags: flags) }) else {
            return false
        }
        shell.printExtra("Connected to domain '\(domain.name)'\nEscape character is ^] (Ctrl + ])\n")
        shell.output.flush()
        var saved = termios()
        let isTTY = isatty(0) == 1 && tcgetattr(0, &saved) == 0
        if isTTY {
            var raw = saved
            cfmakeraw(&raw)
            tcsetattr(0, TCSAFLUSH, &raw)
        }
        let (input, inputCont) = AsyncStream<[UInt8]>.makeStream()
        Thread.detachNewThread {
            var buf = [UInt8](repeating: 0, count: 1024)
            while true {
                let n = buf.withUnsafeMutableBytes { Glibc.read(0, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                inputCont.yield(Array(buf[0..<n]))
            }
            inputCont.finish()
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while let chunk = try? await stream.read() {
                    chunk.withUnsafeBytes { p in
                        var off = 0
                        while off < p.count {
                            let w = Glibc.write(1, p.baseAddress.map { $0 + off }, p.count - off)
                            if w < 0 && errno == EINTR { continue }
                            if w <= 0 { break }
                            off += w
                        }
                    }
                }
            }
            group.addTask {
                for await chunk in input {
                    if let i = chunk.firstIndex(of: escape) {
                        if i > 0 { try? await stream.write(Array(chunk[..<i])) }
                        break
                    }
                    do { try await stream.write(chunk) } catch { break }
                }
            }
            _ = await group.next()
            group.cancelAll()
            try? await stream.finish()
            await group.waitForAll()
        }
        if isTTY { tcsetattr(0, TCSAFLUSH, &saved) }
        shell.printExtra("\n")
        return true
    }
}
