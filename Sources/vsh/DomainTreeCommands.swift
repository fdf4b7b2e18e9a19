import Virt
import VirtCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A domain's snapshot or checkpoint: named, with a parent and children (what virsh-snapshot.c and
/// virsh-checkpoint.c treat alike).
protocol DomainTreeObject: Sendable {
    var name: String { get }
    func parent() async throws -> Self
    func allChildren(flags: UInt32) async throws -> [Self]
    func delete(flags: UInt32) async throws
}

extension DomainSnapshot: DomainTreeObject {}
extension DomainCheckpoint: DomainTreeObject {}

/// The parts of the snapshot-* and checkpoint-* commands that are the same for both kinds; `kind` is the
/// word virsh prints ("snapshot", "checkpoint").
enum DomainTreeCommands {
    /// `*-delete`: the call, then virsh's messages.
    @MainActor static func delete<T: DomainTreeObject>(_ shell: Shell, _ object: T, flags: UInt32, kind: String,
                                                       childrenOnly: Bool) async -> Bool {
        guard await shell.call({ try await object.delete(flags: flags) }) != nil else {
            shell.error("Failed to delete \(kind) \(object.name)")
            return false
        }
        shell.printExtra("Domain \(kind) \(object.name)\(childrenOnly ? " children" : "") deleted\n")
        return true
    }

    /// `*-parent`: the parent's name, or virsh's "has no parent" when the lookup failed with `noParent`.
    @MainActor static func printParent<T: DomainTreeObject>(_ shell: Shell, _ object: T, kind: String,
                                                            noParent: VirtError.Code) async -> Bool {
        let p = await shell.call { try await object.parent() }
        if p == nil, let e = shell.lastError, e.code != noParent { return false }
        shell.lastError = nil
        guard let p else {
            shell.error("\(kind) '\(object.name)' has no parent")
            return false
        }
        shell.print(p.name)
        return true
    }

    /// The parent's name or nil, the error of a missing parent forgotten (as virsh's list and info do).
    @MainActor static func parentName<T: DomainTreeObject>(_ shell: Shell, _ object: T) async -> String? {
        let name = await shell.call { try await object.parent() }?.name
        shell.lastError = nil
        return name
    }

    /// One listed object: its name, its parent's, and the table cells after the name.
    struct Row {
        var name: String
        var parent: String?
        var cells: [String]
    }

    /// `*-list` output once the rows are read: sorted by name unless topological, then `--tree`, `--name` or
    /// the table (`--parent` adds the Parent column). With `from`, the first row is that object.
    @MainActor static func printList(_ shell: Shell, _ cmd: ParsedCommand, rows unsorted: [Row], headers: [String],
                                     topological: Bool, from: Bool) {
        var rows = unsorted
        if !topological { rows.sort { strcasecmp($0.name, $1.name) < 0 } }
        if cmd.has("tree") {
            let names = rows.map(\.name)
            var parents = rows.map(\.parent)
            if from, !parents.isEmpty { parents[0] = nil }
            var out = ""
            for (i, p) in parents.enumerated() where p == nil || (from && !names.contains(p ?? "")) {
                TreePrinter(names: names, parents: parents).print(i, last: i, root: true, indent: "", into: &out)
            }
            shell.print(out)
            return
        }
        if cmd.has("name") {
            for r in rows { shell.print(r.name + "\n") }
            return
        }
        var table = Table(header: cmd.has("parent") ? headers + ["Parent"] : headers)
        for r in rows { table.append([r.name] + r.cells + (cmd.has("parent") ? [r.parent ?? ""] : [])) }
        shell.print(table.render(header: !shell.quiet))
    }

    /// The option pairs virsh refuses together in a list.
    @MainActor static func listOptionsExclusive(_ shell: Shell, _ cmd: ParsedCommand) -> Bool {
        for (a, b) in [("parent", "roots"), ("parent", "tree"), ("roots", "tree"), ("tree", "name")]
        where !shell.exclusive(cmd, a, b) {
            return false
        }
        return true
    }
}
