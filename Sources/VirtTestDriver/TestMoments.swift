import VirtCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The snapshots or checkpoints of one domain: libvirt's `virDomainMomentObjList`. Each moment names its parent
/// (the definition's `parent_name`) and is linked under it when that parent exists, else under the list's
/// root; children are kept newest first (libvirt prepends them), and the list remembers insertion order (libvirt
/// walks a hash table there, so its order is unspecified). At most one moment is current.
struct MomentTree<Payload: Sendable>: Sendable {
    struct Node: Sendable {
        var name: String
        var description: String?
        var parentName: String?
        var creationTime: Int64
        var payload: Payload
        /// The moment it is linked under (nil: the root).
        var linked: String?
        var children: [String] = []
    }

    private(set) var nodes: [String: Node] = [:]
    private(set) var order: [String] = []
    private(set) var roots: [String] = []
    var current: String?

    var isEmpty: Bool { nodes.isEmpty }
    var count: Int { nodes.count }

    subscript(name: String) -> Node? { nodes[name] }

    /// Adds a moment (its name must be new) and links it under its parent.
    mutating func add(_ node: Node) {
        var node = node
        node.linked = node.parentName.flatMap { nodes[$0] != nil ? $0 : nil }
        node.children = []
        nodes[node.name] = node
        order.append(node.name)
        attach(node.name, under: node.linked)
    }

    /// Replaces the definition of an existing moment (redefinition), keeping its links.
    mutating func replace(_ name: String, description: String?, creationTime: Int64, payload: Payload) {
        nodes[name]?.description = description
        nodes[name]?.creationTime = creationTime
        nodes[name]?.payload = payload
    }

    private mutating func attach(_ name: String, under parent: String?) {
        if let parent {
            nodes[parent]?.children.insert(name, at: 0)
        } else {
            roots.insert(name, at: 0)
        }
    }

    private mutating func detach(_ name: String) {
        guard let node = nodes[name] else { return }
        if let p = node.linked {
            nodes[p]?.children.removeAll { $0 == name }
        } else {
            roots.removeAll { $0 == name }
        }
    }

    func children(of name: String?) -> [String] {
        guard let name else { return roots }
        return nodes[name]?.children ?? []
    }

    /// Every descendant of `name` (nil: every moment), parents before children (libvirt's
    /// `virDomainMomentForEachDescendant`).
    func descendants(of name: String?) -> [String] {
        var out: [String] = []
        func walk(_ n: String?) {
            for c in children(of: n) {
                out.append(c)
                walk(c)
            }
        }
        walk(name)
        return out
    }

    /// libvirt's `virDomainMomentObjListGetNames` on normalized flags: from a moment or (nil) from the root,
    /// with `descendants` meaning the whole subtree. `filter` sees each candidate.
    func names(from: String?, descendants: Bool, topological: Bool, leaves: Bool, noLeaves: Bool,
               filter: (Node) -> Bool) -> [String] {
        let candidates: [String]
        if descendants {
            candidates = from != nil || topological ? self.descendants(of: from) : order
        } else {
            candidates = children(of: from)
        }
        return candidates.filter { name in
            guard let node = nodes[name] else { return false }
            if leaves && !node.children.isEmpty { return false }
            if noLeaves && node.children.isEmpty { return false }
            return filter(node)
        }
    }

    /// Removes one moment from the table only (libvirt's `virDomainMomentObjListRemove`); tells whether it was
    /// the current one (which then is none).
    @discardableResult
    mutating func forget(_ name: String) -> Bool {
        nodes.removeValue(forKey: name)
        order.removeAll { $0 == name }
        if current == name {
            current = nil
            return true
        }
        return false
    }

    /// libvirt's test-driver delete: with `children` or `childrenOnly` the whole subtree goes (the moment becomes
    /// current if a removed one was); otherwise the children move up to the moment's parent (their parent name
    /// with them). Unless `childrenOnly`, the moment itself goes; if it was current, its parent becomes current.
    mutating func delete(_ name: String, children: Bool, childrenOnly: Bool) {
        guard let node = nodes[name] else { return }
        if children || childrenOnly {
            var wasCurrent = false
            for d in descendants(of: name) where forget(d) { wasCurrent = true }
            nodes[name]?.children = []
            if wasCurrent { current = name }
        } else if !node.children.isEmpty {
            let newParentName = node.linked.flatMap { nodes[$0]?.name }
            let moved = node.children
            for c in moved {
                nodes[c]?.parentName = newParentName
                nodes[c]?.linked = node.linked
            }
            // libvirt's virDomainMomentMoveChildren: the moved children go first, in their order.
            if let p = node.linked {
                nodes[p]?.children.insert(contentsOf: moved, at: 0)
            } else {
                roots.insert(contentsOf: moved, at: 0)
            }
            nodes[name]?.children = []
        }
        if childrenOnly { return }
        detach(name)
        let wasCurrent = current == name
        let parent = nodes[name]?.parentName.flatMap { nodes[$0] != nil ? $0 : nil }
        forget(name)
        if wasCurrent { current = parent }
    }
}

/// What a snapshot records beyond the common moment fields (libvirt's `virDomainSnapshotDef`).
struct SnapshotPayload: Sendable {
    /// libvirt's snapshot state name: the domain's state when taken (`running`, `paused`, `shutoff`, …).
    var state: String
    /// `<memory snapshot='…'>` and its file.
    var memory: String
    var memoryFile: String?
    /// `<disk name='…' snapshot='…'/>`.
    var disks: [(name: String, snapshot: String)]
    /// The domain as it was (nil for a redefined snapshot without one).
    var domain: DomainDefinition?

    var isExternal: Bool { memory == "external" || disks.contains { $0.snapshot == "external" } }
}

/// What a checkpoint records (libvirt's `virDomainCheckpointDef`).
struct CheckpointPayload: Sendable {
    /// `<disk name='…' checkpoint='bitmap|no' bitmap='…'/>`.
    var disks: [(name: String, checkpoint: String, bitmap: String?)]
    var domain: DomainDefinition?
}

typealias SnapshotTree = MomentTree<SnapshotPayload>
typealias CheckpointTree = MomentTree<CheckpointPayload>

/// Snapshot and checkpoint XML: parse and format as libvirt's snapshot_conf.c and checkpoint_conf.c.
enum MomentXML {
    static let snapshotStates: Set<String> = ["nostate", "running", "blocked", "paused", "shutdown", "shutoff",
                                              "crashed", "pmsuspended", "disk-snapshot"]

    static func now() -> Int64 { Int64(time(nil)) }

    /// Parses `<domainsnapshot>` (or `<domaincheckpoint>`): the root element checked as libvirt's
    /// `virXMLParse` does.
    static func root(_ xml: String, root: String, document: String, domain: VirtError.ErrorDomain)
        throws(VirtError) -> XMLElement {
        let el = try XMLParser.parse(xml, documentName: document, errorDomain: domain)
        if el.name != root {
            throw VirtError(.xmlError, domain: .xml, "XML error: expecting root element of '\(root)', not '\(el.name)'",
                            str1: "expecting root element of '\(root)', not '\(el.name)'")
        }
        return el
    }

    /// The embedded domain, formatted into `w` at the current indent as libvirt's inactive definition.
    static func appendDomain(_ def: DomainDefinition, secure: Bool, to out: inout String, indent: String) {
        let xml = def.formatXML(DomainFormatOptions(secure: secure, inactive: true))
        for line in xml.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            out += indent + line + "\n"
        }
    }

    static func formatSnapshot(_ node: SnapshotTree.Node, domainUUID: VirtUUID, secure: Bool) -> String {
        let p = node.payload
        var out = "<domainsnapshot>\n"
        out += "  <name>\(XMLWriter.escape(node.name))</name>\n"
        if let d = node.description { out += "  <description>\(XMLWriter.escape(d))</description>\n" }
        out += "  <state>\(p.state)</state>\n"
        if let parent = node.parentName {
            out += "  <parent>\n    <name>\(XMLWriter.escape(parent))</name>\n  </parent>\n"
        }
        if node.creationTime != 0 { out += "  <creationTime>\(node.creationTime)</creationTime>\n" }
        if let file = p.memoryFile {
            out += "  <memory snapshot='\(p.memory)' file='\(XMLWriter.escape(file))'/>\n"
        } else {
            out += "  <memory snapshot='\(p.memory)'/>\n"
        }
        if !p.disks.isEmpty {
            out += "  <disks>\n"
            for d in p.disks {
                out += "    <disk name='\(XMLWriter.escape(d.name))' snapshot='\(d.snapshot)'/>\n"
            }
            out += "  </disks>\n"
        }
        if let dom = p.domain {
            appendDomain(dom, secure: secure, to: &out, indent: "  ")
        } else {
            out += "  <domain>\n    <uuid>\(domainUUID)</uuid>\n  </domain>\n"
        }
        out += "</domainsnapshot>\n"
        return out
    }

    static func formatCheckpoint(_ node: CheckpointTree.Node, secure: Bool, noDomain: Bool) -> String {
        let p = node.payload
        var out = "<domaincheckpoint>\n"
        out += "  <name>\(XMLWriter.escape(node.name))</name>\n"
        if let d = node.description { out += "  <description>\(XMLWriter.escape(d))</description>\n" }
        if let parent = node.parentName {
            out += "  <parent>\n    <name>\(XMLWriter.escape(parent))</name>\n  </parent>\n"
        }
        if node.creationTime != 0 { out += "  <creationTime>\(node.creationTime)</creationTime>\n" }
        if !p.disks.isEmpty {
            out += "  <disks>\n"
            for d in p.disks {
                out += "    <disk name='\(XMLWriter.escape(d.name))' checkpoint='\(d.checkpoint)'"
                if let b = d.bitmap { out += " bitmap='\(XMLWriter.escape(b))'" }
                out += "/>\n"
            }
            out += "  </disks>\n"
        }
        if !noDomain, let dom = p.domain {
            appendDomain(dom, secure: secure, to: &out, indent: "  ")
        }
        out += "</domaincheckpoint>\n"
        return out
    }
}
