import Virt

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// virsh's edit cycle (`virsh-edit.c` with `vshEditWriteToTempFile`, `vshEditFile`, `vshEditReadBackFile`): the
/// XML in a temporary file, the user's editor ($VISUAL, $EDITOR, else vi) on it, the file read back, the object
/// redefined.
enum XMLEditor {
    /// How an edit cycle ended.
    enum Outcome<T> {
        /// The XML could not be read, written, edited or read back; the error is pending or printed.
        case failed
        /// The editor left the XML as it was.
        case unchanged
        /// The object was redefined (nil: the definition failed and virsh, having no terminal to ask
        /// "Try again?" on, printed "Failed." and went on as if it had succeeded).
        case defined(T?)
    }

    /// The whole cycle: `getXML` (called again before redefining, to notice a concurrent change), the editor,
    /// and `define` with the edited text when it changed.
    @MainActor
    static func cycle<T>(_ shell: Shell, getXML: () async -> String?,
                         define: (String) async -> T?) async -> Outcome<T> {
        guard let original = await getXML() else { return .failed }
        guard let edited = edit(shell, original) else { return .failed }
        if edited == original { return .unchanged }
        guard let reread = await getXML() else { return .failed }
        var message = "Failed."
        var result: T?
        if reread != original {
            message = "The XML configuration was changed by another user."
        } else {
            result = await define(edited)
            if result != nil { return .defined(result) }
        }
        // vshAskReedit without a terminal: the message as an error, the library's error dropped.
        shell.lastError = nil
        shell.error(message)
        return .defined(nil)
    }

    /// Characters virsh lets through unquoted in $EDITOR and the temporary file name.
    static let accepted = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_.:@".unicodeScalars)

    /// Writes `xml` to a temporary file, runs the editor on it and reads it back.
    @MainActor
    static func edit(_ shell: Shell, _ xml: String) -> String? {
        let tmpdir = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(tmpdir)/virshXXXXXX.xml".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buf -> Int32 in
            guard let base = buf.baseAddress else { return -1 }
            return mkstemps(base, 4)
        }
        guard fd >= 0 else {
            shell.error("g_mkstemp_full: failed to create temporary file: \(String(cString: strerror(errno)))")
            return nil
        }
        let path = String(cString: template)
        defer { unlink(path) }
        let bytes = Array(xml.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else {
            shell.error("write: \(path): failed to write to temporary file: \(String(cString: strerror(errno)))")
            return nil
        }
        let editor = getenv("VISUAL").map { String(cString: $0) } ?? getenv("EDITOR").map { String(cString: $0) } ?? "vi"
        // A plain editor name runs directly; anything else through the shell, as virsh does.
        let plain = editor.unicodeScalars.allSatisfy { accepted.contains($0) }
        let argv: [String]
        if plain {
            guard findInPath(editor) else {
                shell.error("Cannot find '\(editor)' in path: No such file or directory")
                return nil
            }
            argv = [editor, path]
        } else {
            guard path.unicodeScalars.allSatisfy({ accepted.contains($0) }) else {
                shell.error("\(path): temporary filename contains shell meta or other unacceptable characters "
                            + "(is $TMPDIR wrong?)")
                return nil
            }
            argv = ["sh", "-c", "\(editor) \(path)"]
        }
        let status = system(argv.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
            .joined(separator: " "))
        if status != 0 {
            let shown = argv.map(ShellCommands.shellEscaped).joined(separator: " ")
            let code = (status >> 8) & 0xff
            if status == -1 {
                shell.error("internal error: Child process (\(shown)) could not be run")
            } else if status & 0x7f != 0 {
                shell.error("internal error: Child process (\(shown)) unexpected fatal signal \(status & 0x7f)")
            } else {
                shell.error("internal error: Child process (\(shown)) unexpected exit status \(code)")
            }
            return nil
        }
        guard let text = shell.readFile(path) else {
            shell.reportError()
            return nil
        }
        return text
    }

    /// Whether `program` names an executable, directly or through $PATH (virFindFileInPath).
    static func findInPath(_ program: String) -> Bool {
        if program.contains("/") { return access(program, X_OK) == 0 }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/bin:/usr/bin"
        return path.split(separator: ":").contains { dir in access("\(dir)/\(program)", X_OK) == 0 }
    }
}
