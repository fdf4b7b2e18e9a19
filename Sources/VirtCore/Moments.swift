#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The snapshots or checkpoints of one domain: libvirt's `virDomainMomentObjList`. Each moment names its parent
/// (the definition's `parent_name`) and is linked under it when that parent exists, else under the list's
/// root; children are kept newest first (libvirt prepends them), and the list remembers insertion order (libvirt
/// walks a hash table there, so its order is unspecified). At most one moment is current.
package struct MomentTree<Payload: Sendable>: Sendable {
    package struct Node: Sendable {
        package var name: String
        package var description: String?
        package var parentName: String?
        package var creationTime: Int64
        package var payload: Payload
        /// The moment it is linked under (nil: the root).
        package var linked: String?
        package var children: [String] = []

        package init(name: String, description: String?, parentName: String?, creationTime: Int64,
                     payload: Payload) {
            self.name = name
            self.description = description
            self.parentName = parentName
            self.creationTime = creationTime
            self.payload = payload
        }
    }

    package private(set) var nodes: [String: Node] = [:]
    package private(set) var order: [String] = []
    package private(set) var roots: [String] = []
    package var current: String?

    package init() {}

    package var isEmpty: Bool { nodes.isEmpty }
    package var count: Int { nodes.count }

    package subscript(name: String) -> Node? { nodes[name] }

    /// Adds a moment (its name must be new) and links it under its parent.
    package mutating func add(_ node: Node) {
        var node = node
        node.linked = node.parentName.flatMap { nodes[$0] != nil ? $0 : nil }
        node.children = []
        nodes[node.name] = node
        order.append(node.name)
        attach(node.name, under: node.linked)
    }

    /// Replaces the definition of an existing moment (redefinition), keeping its links.
    package mutating func replace(_ name: String, description: String?, creationTime: Int64, payload: Payload) {
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

    package func children(of name: String?) -> [String] {
        guard let name else { return roots }
        return nodes[name]?.children ?? []
    }

    /// Every descendant of `name` (nil: every moment), parents before children (libvirt's
    /// `virDomainMomentForEachDescendant`).
    package func descendants(of name: String?) -> [String] {
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
    package func names(from: String?, descendants: Bool, topological: Bool, leaves: Bool, noLeaves: Bool,
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
    package mutating func forget(_ name: String) -> Bool {
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
    package mutating func delete(_ name: String, children: Bool, childrenOnly: Bool) {
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
package struct SnapshotPayload: Sendable {
    /// libvirt's snapshot state name: the domain's state when taken (`running`, `paused`, `shutoff`, …).
    package var state: String
    /// `<memory snapshot='…'>` and its file.
    package var memory: String
    package var memoryFile: String?
    /// `<disk name='…' snapshot='…'/>`.
    package var disks: [(name: String, snapshot: String)]
    /// The domain as it was (nil for a redefined snapshot without one).
    package var domain: DomainDefinition?
    /// A running domain's persistent definition when the snapshot was taken (libvirt's `<inactiveDomain>`).
    package var inactiveDomain: DomainDefinition?

    package var isExternal: Bool { memory == "external" || disks.contains { $0.snapshot == "external" } }

    package init(state: String, memory: String, memoryFile: String?, disks: [(name: String, snapshot: String)],
                 domain: DomainDefinition?, inactiveDomain: DomainDefinition? = nil) {
        self.state = state
        self.memory = memory
        self.memoryFile = memoryFile
        self.disks = disks
        self.domain = domain
        self.inactiveDomain = inactiveDomain
    }
}

/// What a checkpoint records (libvirt's `virDomainCheckpointDef`).
package struct CheckpointPayload: Sendable {
    /// `<disk name='…' checkpoint='bitmap|no' bitmap='…'/>`.
    package var disks: [(name: String, checkpoint: String, bitmap: String?)]
    package var domain: DomainDefinition?

    package init(disks: [(name: String, checkpoint: String, bitmap: String?)], domain: DomainDefinition?) {
        self.disks = disks
        self.domain = domain
    }
}

package typealias SnapshotTree = MomentTree<SnapshotPayload>
package typealias CheckpointTree = MomentTree<CheckpointPayload>

/// Snapshot and checkpoint XML: parse and format as libvirt's snapshot_conf.c and checkpoint_conf.c.
package enum MomentXML {
    package static let snapshotStates: Set<String> = ["nostate", "running", "blocked", "paused", "shutdown", "shutoff",
                                              "crashed", "pmsuspended", "disk-snapshot"]

    package static func now() -> Int64 { Int64(time(nil)) }

    /// Parses `<domainsnapshot>` (or `<domaincheckpoint>`): the root element checked as libvirt's
    /// `virXMLParse` does.
    package static func root(_ xml: String, root: String, document: String, domain: VirtError.ErrorDomain)
        throws(VirtError) -> XMLElement {
        let el = try XMLParser.parse(xml, documentName: document, errorDomain: domain)
        if el.name != root {
            throw VirtError(.xmlError, domain: .xml, "XML error: expecting root element of '\(root)', not '\(el.name)'",
                            str1: "expecting root element of '\(root)', not '\(el.name)'")
        }
        return el
    }

    /// The embedded domain, formatted into `w` at the current indent as libvirt's inactive definition.
    package static func appendDomain(_ def: DomainDefinition, secure: Bool, to out: inout String, indent: String) {
        let xml = def.formatXML(DomainFormatOptions(secure: secure, inactive: true))
        for line in xml.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            out += indent + line + "\n"
        }
    }

    package static func formatSnapshot(_ node: SnapshotTree.Node, domainUUID: VirtUUID, secure: Bool) -> String {
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
        if let inactive = p.inactiveDomain {
            var text = ""
            appendDomain(inactive, secure: secure, to: &text, indent: "  ")
            // The same element under libvirt's name for it.
            if text.hasPrefix("  <domain") { text = "  <inactiveDomain" + text.dropFirst("  <domain".count) }
            if text.hasSuffix("</domain>\n") { text = text.dropLast("</domain>\n".count) + "</inactiveDomain>\n" }
            out += text
        }
        out += "</domainsnapshot>\n"
        return out
    }

    package static func formatCheckpoint(_ node: CheckpointTree.Node, secure: Bool, noDomain: Bool) -> String {
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


extension MomentTree where Payload == SnapshotPayload {
    /// libvirt's `virDomainSnapshotObjListGetNames` from a snapshot (`from`) or the domain (nil), every snapshot
    /// having metadata.
    package func snapshotNames(from: String?, flags: UInt32) -> [String] {
        var moment = flags & (1 | 2 | 4 | 8 | 16 | 1024)
        if from == nil { moment ^= 1 }
        if moment & (2 | 16) == 16 { return [] }
        let filter = flags & (32 | 64 | 128 | 256 | 512)
        return names(from: from, descendants: moment & 1 != 0, topological: moment & 1024 != 0,
                     leaves: moment & 4 != 0, noLeaves: moment & 8 != 0) { node in
            let state = node.payload.state
            if filter & (32 | 64 | 128) != 0 {
                if filter & 32 == 0 && state == "shutoff" { return false }
                if filter & 128 == 0 && state == "disk-snapshot" { return false }
                if filter & 64 == 0 && state != "shutoff" && state != "disk-snapshot" { return false }
            }
            if filter & (256 | 512) != 0 {
                let external = node.payload.isExternal
                if !((filter & 256 != 0 && !external) || (filter & 512 != 0 && external)) { return false }
            }
            return true
        }
    }
}


/// A snapshot's metadata file (the QEMU driver's, as libvirt keeps them): the snapshot's XML, with
/// `<active>1</active>` on the current one.
package enum SnapshotMetadata {
    package static func format(_ node: SnapshotTree.Node, domainUUID: VirtUUID, current: Bool) -> String {
        var text = MomentXML.formatSnapshot(node, domainUUID: domainUUID, secure: true)
        if current, text.hasSuffix("</domainsnapshot>\n") {
            text = text.dropLast("</domainsnapshot>\n".count) + "  <active>1</active>\n</domainsnapshot>\n"
        }
        return text
    }

    package static func parse(_ xml: String) throws(VirtError) -> (node: SnapshotTree.Node, current: Bool) {
        let el = try MomentXML.root(xml, root: "domainsnapshot", document: "domain_snapshot",
                                    domain: .domainSnapshot)
        guard let name = el.childText("name"), !name.isEmpty else {
            throw VirtError.internalError("snapshot metadata without a name", domain: .domainSnapshot)
        }
        let options = DomainParseOptions(live: true)
        var domain: DomainDefinition?
        if let d = el.child("domain"), d.attr("type") != nil { domain = try DomainDefinition.parse(d, options: options) }
        var inactive: DomainDefinition?
        if var d = el.child("inactiveDomain") {
            d.name = "domain"
            inactive = try DomainDefinition.parse(d)
        }
        let memoryEl = el.child("memory")
        let disks: [(name: String, snapshot: String)] = el.child("disks")?.children("disk").compactMap { disk in
            disk.attr("name").map { ($0, disk.attr("snapshot") ?? "internal") }
        } ?? []
        let state = el.childText("state") ?? "nostate"
        let payload = SnapshotPayload(state: state, memory: memoryEl?.attr("snapshot") ?? "no",
                                      memoryFile: memoryEl?.attr("file"), disks: disks, domain: domain,
                                      inactiveDomain: inactive)
        let parent = el.child("parent")?.childText("name")
        let node = SnapshotTree.Node(name: name, description: el.child("description").map(\.text),
                                     parentName: parent?.isEmpty == false ? parent : nil,
                                     creationTime: el.childText("creationTime").flatMap { Int64($0) } ?? 0,
                                     payload: payload)
        return (node, el.childText("active") == "1")
    }
}
