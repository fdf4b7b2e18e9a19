#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// libvirt's `virFileAbsPath` (GLib's `g_canonicalize_filename`): file names given to the API are made absolute
/// against the caller's current directory and cleaned lexically (`.`, `..`, repeated and trailing slashes) before
/// they reach a driver, which may run in another process.
enum AbsolutePath {
    static func make(_ path: String) -> String {
        var full = path
        if !path.hasPrefix("/") {
            var buf = [CChar](repeating: 0, count: 4096)
            if getcwd(&buf, buf.count) != nil {
                let cwd = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                full = cwd + "/" + path
            }
        }
        return canonicalize(full)
    }

    /// Lexical clean-up of an absolute path, as `g_canonicalize_filename`: exactly two leading slashes are kept.
    static func canonicalize(_ path: String) -> String {
        let leading = path.prefix { $0 == "/" }.count
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(component)
            }
        }
        let root = leading == 2 ? "//" : "/"
        return root + parts.joined(separator: "/")
    }
}
