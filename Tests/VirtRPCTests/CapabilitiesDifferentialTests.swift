import Foundation
import Testing
import VirtTestSupport
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// `virsh capabilities` and `virsh domcapabilities` (Debian's virsh) against the reference libvirtd 9.0 and
/// against virtd's QEMU driver (`qemu+unix:///system`), on the same host and QEMU binaries; and vsh against
/// virtd. Both documents are flattened into element records (path with the identifying `name`/`type`
/// attributes, own attributes, text) and compared as multisets. Differences with a known cause are listed
/// and counted; any other difference fails the test.
@Suite("capabilities and domcapabilities: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .kvm, .root, .referenceLibvirtd))
struct CapabilitiesDifferentialTests {
    /// virtd's QEMU runs as Debian libvirt's default user and group, so the DAC base labels can agree.
    static let securityConfig = "user = \"libvirt-qemu\"\ngroup = \"libvirt-qemu\"\n"

    /// One element of a document: where it is, its attributes and its text.
    struct Record: Hashable, CustomStringConvertible {
        var path: String
        var attrs: String
        var text: String
        var description: String { "\(path)[\(attrs)]" + (text.isEmpty ? "" : "=\(text)") }
    }

    static func flatten(_ xml: String) throws -> [Record] {
        let root = try XMLParser.parse(xml, documentName: "caps")
        var out: [Record] = []
        func walk(_ e: XMLElement, _ parent: String) {
            var step = e.name
            if let n = e.attr("name"), e.name != "feature" { step += "[@name='\(n)']" }
            if e.name == "secmodel", let m = e.childText("model") { step += "[\(m)]" }
            let path = parent.isEmpty ? step : parent + "/" + step
            let attrs = e.attributes.map { "\($0.name)='\($0.value)'" }.sorted().joined(separator: " ")
            let kids = e.elements
            out.append(Record(path: path, attrs: attrs, text: kids.isEmpty ? e.text.trimmingSpaces : ""))
            for k in kids { walk(k, path) }
        }
        walk(root, "")
        return out
    }

    /// Multiset difference a − b.
    static func minus(_ a: [Record], _ b: [Record]) -> [Record] {
        var counts: [Record: Int] = [:]
        for r in b { counts[r, default: 0] += 1 }
        var out: [Record] = []
        for r in a {
            if let c = counts[r], c > 0 { counts[r] = c - 1 } else { out.append(r) }
        }
        return out
    }

    struct Comparison {
        var total: Int
        var matched: Int
        var explained: [(String, [String])] = []
        var unexplained: [String] = []

        func report(_ title: String) -> String {
            var s = "\(title): \(matched) of \(total) reference elements match exactly\n"
            for (why, items) in explained where !items.isEmpty {
                s += "  explained (\(items.count)): \(why)\n"
                for i in items.prefix(6) { s += "    \(i)\n" }
                if items.count > 6 { s += "    … \(items.count - 6) more\n" }
            }
            for u in unexplained { s += "  UNEXPLAINED: \(u)\n" }
            return s
        }
    }

    /// Compares; `explain` names the cause of a differing record (nil: unexplained).
    static func compare(reference: String, ours: String, explain: (Record, _ inReference: Bool) -> String?) throws
        -> Comparison {
        let ref = try flatten(reference)
        let our = try flatten(ours)
        let onlyRef = minus(ref, our)
        let onlyOurs = minus(our, ref)
        var c = Comparison(total: ref.count, matched: ref.count - onlyRef.count)
        var groups: [String: [String]] = [:]
        var order: [String] = []
        for (r, inRef) in onlyRef.map({ ($0, true) }) + onlyOurs.map({ ($0, false) }) {
            let line = (inRef ? "libvirt: " : "ours:    ") + r.description
            if let why = explain(r, inRef) {
                if groups[why] == nil { order.append(why) }
                groups[why, default: []].append(line)
            } else {
                c.unexplained.append(line)
            }
        }
        c.explained = order.map { ($0, groups[$0] ?? []) }
        return c
    }

    static let hostModelCause = "host-model: decoded with QEMU's own CPU model definitions (static expansions) and "
        + "QEMU's feature names; libvirt decodes with its CPU map (cpu_map/*.xml), names and orders features its way"

    /// The causes of domcapabilities differences that are understood.
    static func explainDomcaps(_ r: Record, _ inReference: Bool, refModels: [String: String],
                               ourModels: [String: String]) -> String? {
        if r.path.contains("mode[@name='host-model']/") { return hostModelCause }
        if inReference, r.path == "domainCapabilities/os/loader/value" || r.path == "domainCapabilities/os/loader/enum[@name='secure']/value" {
            return "loader paths: no firmware descriptor serves this arch; libvirt then falls back to its "
                + "compiled-in OVMF list, ours lists descriptors only"
        }
        if inReference, (r.path.hasSuffix("hostdev/enum[@name='subsysType']/value") && r.text == "pci")
            || (r.path.hasSuffix("filesystem/enum[@name='driverType']/value") && ["path", "handle"].contains(r.text)) {
            return "libvirt lists PCI host devices and 9p path/handle without asking QEMU; the microvm binary has "
                + "no vfio-pci and no virtio-9p device, so we do not"
        }
        if !inReference, r.path.hasSuffix("enum[@name='hostPassthroughMigratable']/value"), r.text == "on" {
            return "hostPassthroughMigratable=on: libvirt looks for the migratable property on the type "
                + "max-x86_64-cpu, which qemu-system-i386 calls max-i386-cpu; the property is there"
        }
        if r.path.hasSuffix("mode[@name='custom']/model") {
            let other = inReference ? ourModels : refModels
            if other[r.text] == nil {
                return "custom CPU models QEMU 7.2 offers that libvirt 9.0's CPU map does not know"
            }
            return "CPU model vendor: a model is generic ('unknown') when its QEMU brand string is empty or names "
                + "QEMU/KVM (athlon's is 'QEMU Virtual CPU version 2.5+', libvirt's CPU map says AMD); a binary "
                + "that cannot run TCG tells no model's vendor (under KVM QEMU gives each the host's)"
        }
        return nil
    }

    static func customModels(_ xml: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for r in try flatten(xml) where r.path.hasSuffix("mode[@name='custom']/model") { out[r.text] = r.attrs }
        return out
    }

    static func run(_ r: ChildProcess.Result, _ what: String) -> String {
        #expect(r.status == 0, "\(what): \(r.stderr)")
        return r.stdout
    }

    @Test("domcapabilities (default, --machine pc|q35, --virttype qemu, --arch i686, the microvm binary) agree with libvirtd")
    func domcapabilities() throws {
        let ref = try ReferenceLibvirtd()
        defer { ref.stop() }
        let ours = try RestartableVirtd(config: Self.securityConfig)
        defer { ours.cleanup() }
        let refURI = "qemu+unix:///system?socket=\(ref.socket)"
        var totalMatched = 0
        var total = 0
        var report = ""
        for args in [[], ["--machine", "pc"], ["--machine", "q35"], ["--virttype", "qemu"], ["--arch", "i686"],
                     ["--emulatorbin", "/usr/bin/qemu-system-x86_64-microvm"]] {
            let r = Self.run(try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, "domcapabilities"] + args),
                             "libvirtd domcapabilities \(args)")
            let o = Self.run(try ours.virsh(args: ["domcapabilities"] + args), "virtd domcapabilities \(args)")
            let refModels = try Self.customModels(r)
            let ourModels = try Self.customModels(o)
            let c = try Self.compare(reference: r, ours: o) {
                Self.explainDomcaps($0, $1, refModels: refModels, ourModels: ourModels)
            }
            report += c.report("domcapabilities \(args.joined(separator: " "))")
            #expect(c.unexplained.isEmpty, "domcapabilities \(args): \(c.unexplained)")
            totalMatched += c.matched
            total += c.total
            // The parts outside the CPU models match line for line.
            func outsideCPU(_ s: String) -> String {
                guard let a = s.range(of: "<cpu>"), let b = s.range(of: "</cpu>") else { return s }
                return String(s[..<a.lowerBound] + s[b.upperBound...])
            }
            if args.isEmpty || args.first == "--machine" || args.first == "--virttype" {
                #expect(outsideCPU(r) == outsideCPU(o), "domcapabilities \(args) outside <cpu> differs")
            }
            // python3-libvirt gets the same document through virtd.
            let py = try ChildProcess.run(["/usr/bin/python3", "-c", """
                import sys, libvirt
                a = sys.argv[1:]
                opt = lambda k: a[a.index(k) + 1] if k in a else None
                c = libvirt.open(sys.argv[1])
                print(c.getDomainCapabilities(opt('--emulatorbin'), opt('--arch'), opt('--machine'), opt('--virttype'), 0))
                """, ours.uri] + args)
            #expect(py.status == 0 && py.stdout + "\n" == o, "python3-libvirt getDomainCapabilities \(args): \(py.stderr)")
            // vsh through virtd prints what virsh prints through virtd.
            let v = try ChildProcess.run([TestPaths.vsh, "-c", ours.uri, "domcapabilities"] + args)
            #expect(v.status == 0 && v.stdout == o, "vsh domcapabilities \(args) differs from virsh's")
        }
        print("== domcapabilities: \(totalMatched) of \(total) elements match libvirt 9.0 exactly\n" + report)
    }

    @Test("domcapabilities errors are libvirt's: unknown arch, machine, virt type, emulator")
    func domcapabilitiesErrors() throws {
        let ref = try ReferenceLibvirtd()
        defer { ref.stop() }
        let ours = try RestartableVirtd(config: Self.securityConfig)
        defer { ours.cleanup() }
        let refURI = "qemu+unix:///system?socket=\(ref.socket)"
        let cases: [[String]] = [
            ["--arch", "nonsense"], ["--arch", "sparc"], ["--machine", "nope"], ["--virttype", "xen"],
            ["--virttype", "bogus"], ["--emulatorbin", "/nonexistent/qemu"],
            ["--emulatorbin", "/usr/bin/qemu-system-i386", "--arch", "x86_64"],
        ]
        for args in cases {
            let r = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, "domcapabilities"] + args)
            let o = try ours.virsh(args: ["domcapabilities"] + args)
            #expect(r.status == 1 && o.status == 1, "\(args)")
            #expect(o.stderr == r.stderr, "\(args): ours \(o.stderr) libvirt \(r.stderr)")
        }
    }

    @Test("capabilities: host and guest facts agree with libvirtd; virsh and vsh print the same through virtd")
    func capabilities() throws {
        let ref = try ReferenceLibvirtd()
        defer { ref.stop() }
        let ours = try RestartableVirtd(config: Self.securityConfig)
        defer { ours.cleanup() }
        let r = Self.run(try virsh("qemu+unix:///system?socket=\(ref.socket)", "capabilities"), "libvirtd capabilities")
        let o = Self.run(try ours.virsh("capabilities"), "virtd capabilities")
        let c = try Self.compare(reference: r, ours: o) { rec, _ in
            switch rec.path {
            case "capabilities/host/uuid":
                return "host UUID: the host has no SMBIOS UUID, so each daemon makes up a random one"
            case "capabilities/host/cpu/model", "capabilities/host/cpu/feature":
                return "host CPU: named from /proc/cpuinfo's flags with QEMU's CPU model definitions; libvirt reads "
                    + "CPUID itself (it sees bits the kernel hides, e.g. rdseed on CPUs with a broken RDSEED) and "
                    + "decodes with its CPU map"
            default:
                return nil
            }
        }
        print("== " + c.report("capabilities"))
        #expect(c.unexplained.isEmpty, "\(c.unexplained)")

        // Machine lists in the same order (the multiset comparison above ignores order).
        func machines(_ xml: String) throws -> [String] {
            try Self.flatten(xml).filter { $0.path.hasSuffix("/machine") }.map(\.description)
        }
        #expect(try machines(r) == machines(o))
        #expect(try machines(o).count > 20)

        // The same daemon through vsh.
        let v = try ChildProcess.run([TestPaths.vsh, "-c", ours.uri, "capabilities"])
        #expect(v.status == 0 && v.stdout == o)
    }
}
