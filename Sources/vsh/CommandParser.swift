/// Turns words into commands with their options, following virsh's rules (`vshCommandParse`).
///
/// `--name value`, `--name=value` and positional arguments (filling the options that accept them, in order)
/// are accepted; `--` makes every later word positional; `--help` turns the command into `help NAME`.
/// Any error stops the whole parse, so that nothing runs: virsh prints the error and exits with 1.
struct CommandParser {
    let registry: CommandRegistry

    struct Failure: Error {
        var message: String
    }

    func parse(_ tokenizer: inout CommandTokenizer) throws(Failure) -> [ParsedCommand] {
        var commands = [ParsedCommand]()
        while true {
            var definition: CommandDefinition?
            var given = [ParsedCommand.Given]()
            var dataOnly = false
            var seen = Set<Int>()
            var last: CommandTokenizer.Token = .end

            tokens: while true {
                let token: CommandTokenizer.Token
                do {
                    token = try tokenizer.next()
                } catch {
                    throw Failure(message: error.message)
                }
                last = token
                guard case .word(let word) = token else { break tokens }

                guard let def = definition else {
                    if word.hasPrefix("#") {
                        // A comment: skip the rest of the command.
                        while true {
                            let skipped: CommandTokenizer.Token
                            do { skipped = try tokenizer.next() } catch { throw Failure(message: error.message) }
                            last = skipped
                            if case .word = skipped { continue }
                            break
                        }
                        break tokens
                    }
                    guard let found = registry.command(named: word) else {
                        throw Failure(message: "unknown command: '\(word)'")
                    }
                    definition = found
                    continue
                }

                let bytes = Array(word.utf8)
                if !dataOnly, bytes.count > 2, bytes[0] == UInt8(ascii: "-"), bytes[1] == UInt8(ascii: "-"),
                   isAlnum(bytes[2]) {
                    var name = String(decoding: bytes[2...], as: UTF8.self)
                    var inlineValue: String?
                    if let eq = name.firstIndex(of: "=") {
                        inlineValue = String(name[name.index(after: eq)...])
                        name = String(name[..<eq])
                    }
                    if name == "help" {
                        given.append(.init(index: -1, name: "help", value: nil))
                        continue
                    }
                    guard let (index, option) = try lookupOption(def, name, &inlineValue, &seen) else {
                        continue  // `help` ignores unknown options
                    }
                    if option.kind == .bool {
                        if inlineValue != nil {
                            throw Failure(message: "invalid '=' after option --\(option.name)")
                        }
                        given.append(.init(index: index, name: option.name, value: nil))
                    } else {
                        var value = inlineValue
                        if value == nil {
                            let next: CommandTokenizer.Token
                            do {
                                next = try tokenizer.next()
                            } catch {
                                throw Failure(message: error.message)
                            }
                            last = next
                            if case .word(let w) = next { value = w }
                        }
                        guard let value else {
                            let what = option.kind == .int ? "number" : "string"
                            throw Failure(message: "expected syntax: --\(option.name) <\(what)>")
                        }
                        given.append(.init(index: index, name: option.name, value: value))
                    }
                } else if !dataOnly, word == "--" {
                    dataOnly = true
                } else {
                    guard let index = nextPositional(def, seen) else {
                        if def.name == "help" { continue }
                        throw Failure(message: "unexpected data '\(word)'")
                    }
                    seen.insert(index)
                    given.append(.init(index: index, name: def.options[index].name, value: word))
                }
            }

            if let def = definition {
                if given.contains(where: { $0.index == -1 }), let help = registry.command(named: "help") {
                    commands.append(ParsedCommand(definition: help,
                                                  given: [.init(index: 0, name: "command", value: def.name)]))
                } else {
                    var missing = [String]()
                    for (i, option) in def.options.enumerated() where option.required && !seen.contains(i) {
                        switch option.kind {
                        case .data, .argv: missing.append("command '\(def.name)' requires <\(option.name)> option")
                        default: missing.append("command '\(def.name)' requires --\(option.name) option")
                        }
                    }
                    if !missing.isEmpty { throw Failure(message: missing.joined(separator: "\nerror: ")) }
                    commands.append(ParsedCommand(definition: def, given: given))
                }
            }
            if last == .end { break }
        }
        return commands
    }

    /// Finds `--name` among the command's options, resolving aliases and refusing repeats.
    private func lookupOption(_ def: CommandDefinition, _ name: String, _ inlineValue: inout String?,
                              _ seen: inout Set<Int>) throws(Failure) -> (Int, OptionDefinition)? {
        var wanted = name
        for (i, option) in def.options.enumerated() where option.name == wanted {
            if case .alias(let target) = option.kind {
                if let eq = target.firstIndex(of: "=") {
                    if inlineValue != nil { throw Failure(message: "invalid '=' after option --\(option.name)") }
                    inlineValue = String(target[target.index(after: eq)...])
                    wanted = String(target[..<eq])
                } else {
                    wanted = target
                }
                continue
            }
            if seen.contains(i) && option.kind != .argv {
                throw Failure(message: "option --\(wanted) already seen")
            }
            seen.insert(i)
            return (i, option)
        }
        // An alias points to a later option: search again from the start for the resolved name.
        if wanted != name {
            for (i, option) in def.options.enumerated() where option.name == wanted {
                if case .alias = option.kind { continue }
                if seen.contains(i) && option.kind != .argv {
                    throw Failure(message: "option --\(wanted) already seen")
                }
                seen.insert(i)
                return (i, option)
            }
        }
        if def.name == "help" { return nil }
        throw Failure(message: "command '\(def.name)' doesn't support option --\(name)")
    }

    /// The first option a positional argument can still fill.
    private func nextPositional(_ def: CommandDefinition, _ seen: Set<Int>) -> Int? {
        for (i, option) in def.options.enumerated() where option.takesPositional {
            if option.kind == .argv || !seen.contains(i) { return i }
        }
        return nil
    }

    private func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }
}
