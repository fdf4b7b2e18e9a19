#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A text table printed as virsh's `vsh-table.c` prints it.
///
/// Every cell is a space, the value, then (except in the last column) padding to the column's width and two
/// spaces. The header is followed by a line of dashes as wide as all columns. Without the header (quiet
/// mode) the widths come from the rows only. Control characters are shown as `\xNN`.
struct Table {
    private var rows: [[String]]

    init(header: [String]) {
        rows = [header]
    }

    mutating func append(_ row: [String]) {
        rows.append(row)
    }

    func render(header: Bool) -> String {
        let columns = rows[0].count
        var cells = [[String]]()
        var widths = [[Int]]()
        var maxWidths = [Int](repeating: 0, count: columns)
        for (r, row) in rows.enumerated() {
            var encodedRow = [String]()
            var widthRow = [Int]()
            for (c, cell) in row.enumerated() {
                let (encoded, width) = Self.safeEncode(cell)
                encodedRow.append(encoded)
                let w = width + 3
                widthRow.append(w)
                if (header || r > 0) && w > maxWidths[c] { maxWidths[c] = w }
            }
            cells.append(encodedRow)
            widths.append(widthRow)
        }

        var out = ""
        func printRow(_ r: Int) {
            for c in 0..<columns {
                out += " "
                out += cells[r][c]
                if c < columns - 1 {
                    out += String(repeating: " ", count: max(0, maxWidths[c] - widths[r][c]))
                    out += "  "
                }
            }
            out += "\n"
        }
        if header {
            printRow(0)
            out += String(repeating: "-", count: maxWidths.reduce(0, +))
            out += "\n"
        }
        for r in 1..<rows.count { printRow(r) }
        return out
    }

    /// Whether the C library's character type locale is UTF-8 (virsh calls `setlocale(LC_ALL, "")`).
    nonisolated(unsafe) static var utf8Locale = false

    /// The printable form of a cell and its width in columns.
    static func safeEncode(_ s: String) -> (String, Int) {
        let bytes = Array(s.utf8)
        var out = [UInt8]()
        var width = 0
        let hex = Array("0123456789abcdef".utf8)
        func escape(_ b: UInt8) {
            out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "x")])
            if b >= 0x80 {
                // virsh formats a signed char with %02x into a 5-byte buffer: always "\xff".
                out.append(contentsOf: [UInt8(ascii: "f"), UInt8(ascii: "f")])
            } else {
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            }
            width += 4
        }
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if (b == UInt8(ascii: "\\") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "x")) || b < 0x20
                || b == 0x7F {
                escape(b)
                i += 1
                continue
            }
            if b < 0x80 {
                out.append(b)
                width += 1
                i += 1
                continue
            }
            // Multibyte sequence.
            let len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
            if !utf8Locale || len == 1 || i + len > bytes.count
                || !bytes[(i + 1)..<(i + len)].allSatisfy({ $0 & 0xC0 == 0x80 }) {
                escape(b)
                i += 1
                continue
            }
            out.append(contentsOf: bytes[i..<(i + len)])
            width += 1
            i += len
        }
        return (String(decoding: out, as: UTF8.self), width)
    }
}
