/// QEMU's introspected QMP schema (`query-qmp-schema`), queried with libvirt's path syntax.
///
/// A query starts with a command or event name and walks the schema: `arg-type` / `ret-type` follow the
/// command's argument or return type, a plain name follows an object member's type (arrays are looked
/// through), `^value` holds when the enum reached has that value, `+name` when the object has that member.
/// Example: `query-display-options/ret-type/type/^dbus`.
public struct QMPSchema: Sendable {
    private var entries: [String: JSONValue] = [:]

    /// The queries the probe evaluates and stores (``QEMUCapabilities/schemaFacts``).
    public static let probedQueries: [String] = [
        "query-display-options/ret-type/type/^sdl",
        "query-display-options/ret-type/type/^egl-headless",
        "query-display-options/ret-type/type/^dbus",
        "query-display-options/ret-type/type/^gtk",
        "migrate-set-capabilities/arg-type/capabilities/capability/^rdma-pin-all",
        "blockdev-add/arg-type/driver/^file",
        "blockdev-backup/arg-type/+sync",
        "block-dirty-bitmap-merge/arg-type/+bitmaps",
        "object-add/arg-type/qom-type/^memory-backend-memfd",
        "object-add/arg-type/qom-type/^memory-backend-file",
        "object-add/arg-type/qom-type/^rng-builtin",
        "object-add/arg-type/qom-type/^rng-egd",
        "object-add/arg-type/qom-type/^rng-random",
        "object-add/arg-type/qom-type/^sev-guest",
        "object-add/arg-type/qom-type/^sgx-epc",
        "object-add/arg-type/qom-type/^iothread",
    ]

    /// Builds the index from `query-qmp-schema`'s answer.
    public init(_ schema: JSONValue) {
        for e in schema.arrayValue ?? [] {
            if let name = e["name"]?.stringValue { entries[name] = e }
        }
    }

    /// Whether `query` holds (see the type's documentation for the syntax).
    public func query(_ query: String) -> Bool {
        let parts = query.split(separator: "/").map(String.init)
        guard let first = parts.first, var cur = entries[first] else { return false }
        for part in parts.dropFirst() {
            cur = lookThroughArrays(cur)
            if part.hasPrefix("^") {
                let value = String(part.dropFirst())
                let values = (cur["values"]?.arrayValue ?? []).compactMap(\.stringValue)
                    + (cur["members"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
                guard cur["meta-type"]?.stringValue == "enum", values.contains(value) else { return false }
                continue
            }
            if part.hasPrefix("+") {
                guard member(of: cur, named: String(part.dropFirst())) != nil else { return false }
                continue
            }
            if part == "arg-type" || part == "ret-type" {
                guard let t = cur[part]?.stringValue, let next = entries[t] else { return false }
                cur = next
                continue
            }
            guard let m = member(of: cur, named: part), let t = m["type"]?.stringValue, let next = entries[t] else {
                return false
            }
            cur = next
        }
        return true
    }

    private func lookThroughArrays(_ e: JSONValue) -> JSONValue {
        var e = e
        while e["meta-type"]?.stringValue == "array", let t = e["element-type"]?.stringValue, let next = entries[t] {
            e = next
        }
        return e
    }

    /// A member of an object type, including the members of its union variants.
    private func member(of e: JSONValue, named name: String) -> JSONValue? {
        if let m = (e["members"]?.arrayValue ?? []).first(where: { $0["name"]?.stringValue == name }) { return m }
        for v in e["variants"]?.arrayValue ?? [] {
            if let t = v["type"]?.stringValue, let ve = entries[t], let m = member(of: ve, named: name) { return m }
        }
        return nil
    }
}
