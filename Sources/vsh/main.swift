// vsh: a virsh-compatible shell over the Virt API.
//
// `vsh [options] "cmd1 args; cmd2 args"` or `vsh [options] cmd args...`, with virsh's global options
// (-c URI, -r, -q, -t, ...), command syntax, output and exit codes. Without a command it reads commands
// from standard input.

import Virt

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@MainActor
func runMain() async -> Int32 {
    let shell = Shell(registry: .standard)
    Table.utf8Locale = localeIsUTF8()

    let options: GlobalOptions
    do {
        options = try GlobalOptions.parse(Array(CommandLine.arguments.dropFirst()))
    } catch {
        shell.error(error.message)
        return 1
    }
    for warning in options.warnings { shell.error(warning) }
    switch options.immediate {
    case .help:
        Usage.print(shell)
        shell.output.flush()
        return 0
    case .version(let long):
        shell.print(long ? Usage.longVersion : "\(Format.version(Connection.libraryVersion))\n")
        shell.output.flush()
        return 0
    case nil:
        break
    }
    shell.quiet = options.quiet
    shell.timing = options.timing
    shell.readOnly = options.readOnly
    shell.connectURI = options.connectURI ?? environment("VIRSH_DEFAULT_CONNECT_URI")

    if options.commandWords.isEmpty {
        return await Interactive.run(shell) ? 0 : 1
    }

    // virsh refuses an empty command string; a string holding only blanks or comments runs nothing, successfully.
    if options.commandWords.count == 1 && options.commandWords[0].isEmpty { return 1 }
    var tokenizer = options.commandWords.count == 1
        ? CommandTokenizer(string: options.commandWords[0])
        : CommandTokenizer(words: options.commandWords)
    let commands: [ParsedCommand]
    do {
        commands = try CommandParser(registry: shell.registry).parse(&tokenizer)
    } catch {
        shell.error(error.message)
        return 1
    }
    if commands.isEmpty { return 0 }

    // A connection named explicitly must open before anything runs; the default one opens on first use.
    if shell.connectURI != nil, !(await shell.connect()) {
        shell.reportError()
        return 1
    }
    let ok = await shell.run(commands)
    shell.output.flush()
    if let connection = shell.connection { await connection.close() }
    return ok ? 0 : 1
}

func environment(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    let s = String(cString: p)
    return s.isEmpty ? nil : s
}

/// Whether the character-type locale from the environment is UTF-8, as `setlocale(LC_ALL, "")` would find.
func localeIsUTF8() -> Bool {
    let value = environment("LC_ALL") ?? environment("LC_CTYPE") ?? environment("LANG") ?? "C"
    let lower = value.lowercased()
    return lower.contains("utf-8") || lower.contains("utf8")
}

let status = await runMain()
exit(status)
