/// Splits command input into words, as virsh does.
///
/// A single command-line string (or an interactive line) follows virsh's shell-like rules: blanks separate
/// words, `;` or a newline ends a command, `#` at the start of a word comments out the rest of the line,
/// single quotes keep everything literally, double quotes keep blanks and allow `\` escapes, `\` escapes
/// the next character outside single quotes, and backslash-newline is elided. Several arguments on the
/// process command line are taken word for word instead, with no `;` splitting.
struct CommandTokenizer {
    enum Token: Equatable {
        case word(String)
        case endOfCommand
        case end
    }

    struct Failure: Error {
        var message: String
    }

    private enum Source {
        case text([UInt8], Int)
        case words([String], Int)
    }

    private var source: Source

    init(string: String) {
        source = .text(Array(string.utf8), 0)
    }

    init(words: [String]) {
        source = .words(words, 0)
    }

    /// The next token.
    mutating func next() throws(Failure) -> Token {
        switch source {
        case .words(let words, let i):
            guard i < words.count else { return .end }
            source = .words(words, i + 1)
            return .word(words[i])
        case .text(let bytes, let start):
            let (token, position) = try Self.scan(bytes, from: start)
            source = .text(bytes, position)
            return token
        }
    }

    private static func scan(_ p: [UInt8], from start: Int) throws(Failure) -> (Token, Int) {
        let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), nl = UInt8(ascii: "\n")
        let backslash = UInt8(ascii: "\\"), semicolon = UInt8(ascii: ";"), hash = UInt8(ascii: "#")
        let squote = UInt8(ascii: "'"), dquote = UInt8(ascii: "\"")
        var i = start
        let n = p.count
        func at(_ k: Int) -> UInt8 { k < n ? p[k] : 0 }

        while i < n, p[i] == space || p[i] == tab || (p[i] == backslash && at(i + 1) == nl) {
            i += p[i] == backslash ? 2 : 1
        }
        if i >= n || p[i] == 0 { return (.end, i) }
        if p[i] == semicolon || p[i] == nl { return (.endOfCommand, i + 1) }
        if p[i] == hash {
            while i < n, p[i] != nl { i += 1 }
            return (.endOfCommand, i < n ? i + 1 : i)
        }

        var out = [UInt8]()
        var single = false
        var double = false
        while i < n, p[i] != 0 {
            let c = p[i]
            if !single && !double && (c == space || c == tab || c == semicolon || c == nl) { break }
            if !double && c == squote {
                single.toggle()
                i += 1
                continue
            } else if !single && c == backslash {
                i += 1
                if i >= n || p[i] == 0 { throw Failure(message: "dangling \\") }
                if p[i] == nl {
                    i += 1
                    continue
                }
            } else if !single && c == dquote {
                double.toggle()
                i += 1
                continue
            }
            out.append(p[i])
            i += 1
        }
        if double { throw Failure(message: "missing \"") }
        return (.word(String(decoding: out, as: UTF8.self)), i)
    }
}
