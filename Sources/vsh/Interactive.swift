#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Interactive mode: a prompt, one command line at a time, until `quit`, `exit` or end of input.
enum Interactive {
    @MainActor
    static func run(_ shell: Shell) async -> Bool {
        shell.interactive = true
        if !shell.quiet {
            shell.print("Welcome to virsh, the virtualization interactive terminal.\n\n")
            shell.print("Type:  'help' for help with commands\n       'quit' to quit\n\n")
        }
        if shell.connectURI != nil, !(await shell.connect()) {
            shell.reportError()
            return false
        }
        let echo = isatty(0) == 0
        var ok = true
        while true {
            let prompt = shell.readOnly ? "virsh > " : "virsh # "
            shell.print(prompt)
            shell.output.flush()
            guard let line = readLine(strippingNewline: true) else {
                shell.print("\n")
                break
            }
            if echo { shell.print(line + "\n") }
            var tokenizer = CommandTokenizer(string: line)
            let commands: [ParsedCommand]
            do {
                commands = try CommandParser(registry: shell.registry).parse(&tokenizer)
            } catch {
                shell.error(error.message)
                continue
            }
            if commands.isEmpty { continue }
            ok = await shell.run(commands)
            if commands.contains(where: { $0.name == "quit" || $0.name == "exit" }) { break }
        }
        shell.output.flush()
        return ok
    }
}
