import Foundation
import Testing
@testable import Virt
@testable import VirtTestDriver

/// Runs one fixed scenario through python3-libvirt against the reference test driver (libvirt 9.0) and through
/// our Swift API, and compares, step by step: the error (code, error domain, message), the lifecycle events
/// (event, detail, domain name, id) and the domain's state afterwards (state, reason, id, persistence, managed
/// save).
@Suite struct DifferentialTests {
    enum Step: Sendable {
        case define(String, uuid: String, memory: Int)
        case defineXML(String, xml: String)
        case create(String, uuid: String, memory: Int)
        case undefine(String, flags: UInt32)
        case start(String, flags: UInt32)
        case destroy(String)
        case shutdown(String)
        case reboot(String)
        case reset(String)
        case suspend(String)
        case resume(String)
        case save(String, file: String)
        case restore(file: String)
        case managedSave(String, flags: UInt32)
        case managedSaveRemove(String)
        case setAutostart(String, Bool)
        case lookupName(String)
        case setMemory(String, kib: UInt64, flags: UInt32)
        case setVcpus(String, count: UInt32, flags: UInt32)
        case lookupID(Int32)

        /// The domain whose state is reported after the step.
        var target: String {
            switch self {
            case .define(let n, _, _), .defineXML(let n, _), .create(let n, _, _), .undefine(let n, _), .start(let n, _), .destroy(let n),
                 .shutdown(let n), .reboot(let n), .reset(let n), .suspend(let n), .resume(let n), .save(let n, _),
                 .managedSave(let n, _), .managedSaveRemove(let n), .setAutostart(let n, _), .lookupName(let n),
                 .setMemory(let n, _, _), .setVcpus(let n, _, _):
                n
            case .restore: "x"
            case .lookupID: "test"
            }
        }

        func xml(_ name: String, _ uuid: String, _ memory: Int) -> String {
            Support.domainXML(name, uuid: uuid, memory: memory)
        }

        /// The step as a Python expression (with `c` the connection and `d(name)` a lookup).
        func python(dir: String) -> String {
            switch self {
            case .define(let n, let u, let m): "c.defineXML(\(pyString(xml(n, u, m))))"
            case .defineXML(_, let x): "c.defineXML(\(pyString(x)))"
            case .create(let n, let u, let m): "c.createXML(\(pyString(xml(n, u, m))), 0)"
            case .undefine(let n, let f): "d('\(n)').undefineFlags(\(f))"
            case .start(let n, let f): "d('\(n)').createWithFlags(\(f))"
            case .destroy(let n): "d('\(n)').destroy()"
            case .shutdown(let n): "d('\(n)').shutdown()"
            case .reboot(let n): "d('\(n)').reboot(0)"
            case .reset(let n): "d('\(n)').reset(0)"
            case .suspend(let n): "d('\(n)').suspend()"
            case .resume(let n): "d('\(n)').resume()"
            case .save(let n, let f): "d('\(n)').save('\(dir)/\(f)')"
            case .restore(let f): "c.restore('\(dir)/\(f)')"
            case .managedSave(let n, let f): "d('\(n)').managedSave(\(f))"
            case .managedSaveRemove(let n): "d('\(n)').managedSaveRemove(0)"
            case .setAutostart(let n, let on): "d('\(n)').setAutostart(\(on ? 1 : 0))"
            case .lookupName(let n): "c.lookupByName('\(n)')"
            case .setMemory(let n, let k, let f): "d('\(n)').setMemoryFlags(\(k), \(f))"
            case .setVcpus(let n, let v, let f): "d('\(n)').setVcpusFlags(\(v), \(f))"
            case .lookupID(let id): "c.lookupByID(\(id))"
            }
        }

        func pyString(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "\\'") + "'" }

        /// The step through our API.
        func run(_ c: Connection, dir: String) async throws {
            func d(_ n: String) async throws -> Domain { try await c.lookupDomain(name: n) }
            switch self {
            case .define(let n, let u, let m): _ = try await c.defineDomain(xml: xml(n, u, m))
            case .defineXML(_, let x): _ = try await c.defineDomain(xml: x)
            case .create(let n, let u, let m): _ = try await c.createDomain(xml: xml(n, u, m))
            case .undefine(let n, let f): try await d(n).undefine(flags: UndefineFlags(rawValue: f))
            case .start(let n, let f):
                var dom = try await d(n)
                try await dom.start(flags: CreateFlags(rawValue: f))
            case .destroy(let n): try await d(n).destroy()
            case .shutdown(let n): try await d(n).shutdown()
            case .reboot(let n): try await d(n).reboot()
            case .reset(let n): try await d(n).reset()
            case .suspend(let n): try await d(n).suspend()
            case .resume(let n): try await d(n).resume()
            case .save(let n, let f): try await d(n).save(to: "\(dir)/\(f)")
            case .restore(let f): try await c.restoreDomain(from: "\(dir)/\(f)")
            case .managedSave(let n, let f): try await d(n).managedSave(flags: SaveRestoreFlags(rawValue: f))
            case .managedSaveRemove(let n): try await d(n).managedSaveRemove()
            case .setAutostart(let n, let on): try await d(n).setAutostart(on)
            case .lookupName(let n): _ = try await c.lookupDomain(name: n)
            case .setMemory(let n, let k, let f): try await d(n).setMemory(kib: k, flags: ModificationImpact(rawValue: f))
            case .setVcpus(let n, let v, let f): try await d(n).setVcpus(v, flags: ModificationImpact(rawValue: f))
            case .lookupID(let id): _ = try await c.lookupDomain(id: id)
            }
        }
    }

    static let ux = "e35352e0-a7cd-46f9-9ca2-57c5499ba8ac"
    static let ut = "0b5d7a36-6d3e-4b47-9c1e-4c0d1f6e2a11"
    static let udv = "5c1a2b3d-0000-4000-8000-000000000003"
    static let uv = "5c1a2b3d-0000-4000-8000-000000000002"
    static let uz = "5c1a2b3d-0000-4000-8000-00000000000z".replacingOccurrences(of: "z", with: "1")

    static let scenario: [Step] = [
        .lookupName("nope"), .lookupID(99), .lookupID(1),
        .define("x", uuid: ux, memory: 1024), .define("x", uuid: ux, memory: 2048),
        .define("x", uuid: ut, memory: 1024), .define("y", uuid: ux, memory: 1024),
        .define("test", uuid: ut, memory: 1024),
        .start("x", flags: 0), .start("x", flags: 0), .start("x", flags: 1),
        .define("x", uuid: ux, memory: 1024),
        .suspend("x"), .suspend("x"), .resume("x"), .resume("x"),
        .reboot("x"), .reset("x"), .suspend("x"), .reboot("x"),
        .shutdown("x"), .shutdown("x"), .destroy("x"), .reboot("x"), .reset("x"), .suspend("x"),
        .resume("x"), .save("x", file: "a.save"),
        .start("x", flags: 0), .save("x", file: "a.save"), .restore(file: "a.save"), .restore(file: "a.save"),
        .suspend("x"), .save("x", file: "b.save"), .restore(file: "b.save"),
        .restore(file: "missing.save"), .save("x", file: "nodir/c.save"), .save("x", file: ""), .restore(file: ""),
        .managedSave("x", flags: 6),
        .managedSave("x", flags: 0), .managedSave("x", flags: 0), .undefine("x", flags: 0),
        .managedSaveRemove("x"), .start("x", flags: 0), .managedSave("x", flags: 8),
        .managedSave("x", flags: 1), .start("x", flags: 0),
        .setAutostart("x", true), .undefine("x", flags: 4), .undefine("x", flags: 0),
        .managedSave("x", flags: 0), .define("x", uuid: ux, memory: 1024), .undefine("x", flags: 0),
        .destroy("x"), .lookupName("x"),
        .restore(file: "a.save"), .shutdown("x"),
        .create("x", uuid: ux, memory: 1024), .create("x", uuid: ux, memory: 1024), .destroy("x"),
        .define("x", uuid: ux, memory: 1024), .create("x", uuid: ux, memory: 4096), .destroy("x"),
        .managedSave("x", flags: 1), .start("x", flags: 0), .managedSave("x", flags: 0),
        .undefine("x", flags: 1), .lookupName("x"),
        .destroy("test"), .start("test", flags: 0), .lookupID(1),
        // Lifecycle actions: power-off restarts, reboot stops.
        .defineXML("z", xml: "<domain type='test'><name>z</name><uuid>\(uz)</uuid><memory>1024</memory>"
            + "<os><type>hvm</type></os><on_poweroff>restart</on_poweroff><on_reboot>destroy</on_reboot></domain>"),
        .start("z", flags: 0), .suspend("z"), .shutdown("z"), .reboot("z"), .start("z", flags: 0),
        .defineXML("z", xml: "<domain type='test'><name>z</name><uuid>\(uz)</uuid><memory>1024</memory>"
            + "<os><type>hvm</type></os><on_poweroff>preserve</on_poweroff>"
            + "<on_reboot>rename-restart</on_reboot></domain>"),
        .reboot("z"), .shutdown("z"), .start("z", flags: 0), .shutdown("z"),
        // Memory and vCPUs, live and config.
        .defineXML("v", xml: "<domain type='test'><name>v</name><uuid>\(uv)</uuid><memory>4096</memory>"
            + "<vcpu>4</vcpu><os><type>hvm</type></os></domain>"),
        .setMemory("v", kib: 2048, flags: 0), .setMemory("v", kib: 2048, flags: 1), .setMemory("v", kib: 8192, flags: 0),
        .setMemory("v", kib: 3072, flags: 4), .setVcpus("v", count: 2, flags: 0), .setVcpus("v", count: 8, flags: 4),
        .setVcpus("v", count: 6, flags: 0), .setVcpus("v", count: 40, flags: 0),
        .start("v", flags: 0), .setMemory("v", kib: 1024, flags: 0), .setMemory("v", kib: 1536, flags: 2),
        .setMemory("v", kib: 1024, flags: 3), .setMemory("v", kib: 5000, flags: 4), .setMemory("v", kib: 5000, flags: 6),
        .setVcpus("v", count: 1, flags: 1), .setVcpus("v", count: 3, flags: 2), .setVcpus("v", count: 10, flags: 6),
        .setVcpus("v", count: 9, flags: 1), .setVcpus("v", count: 2, flags: 3),
        .destroy("v"), .undefine("v", flags: 0),
        // Devices: interfaces get testnetN names; the built-in domain is redefined while running.
        .defineXML("dv", xml: "<domain type='test'><name>dv</name><uuid>\(udv)</uuid><memory>1024</memory>"
            + "<os><type>hvm</type></os><devices>"
            + "<disk type='file' device='disk'><source file='/var/lib/x.img'/><target dev='vdb' bus='virtio'/></disk>"
            + "<interface type='network'><mac address='52:54:00:11:22:33'/><source network='default'/></interface>"
            + "<interface type='bridge'><mac address='52:54:00:11:22:34'/><source bridge='br0'/>"
            + "<target dev='testnet0'/></interface>"
            + "<interface type='user'><mac address='52:54:00:11:22:35'/></interface>"
            + "</devices></domain>"),
        .start("dv", flags: 0), .save("dv", file: "dv.save"), .restore(file: "dv.save"), .undefine("dv", flags: 0),
        .destroy("dv"), .lookupName("dv"),
        .defineXML("test", xml: "<domain type='test'><name>test</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>"
            + "<memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"),
        .shutdown("test"), .start("test", flags: 0),
        .defineXML("bad", xml: ""), .create("bad", uuid: "not-a-uuid", memory: 1),
        .defineXML("bad", xml: "<domain type='test'><name>bad&#10;x</name><memory>1024</memory>"
            + "<os><type>hvm</type></os></domain>"),
        .defineXML("bad", xml: "<domain type='test'><name>bad</name><os><type>hvm</type></os></domain>"),
        .defineXML("bad", xml: "<domain type='test'><memory>1024</memory><os><type>hvm</type></os></domain>"),
        .defineXML("bad", xml: "<domain type='test'><name>bad</name><memory>1024</memory></domain>"),
    ]

    struct Outcome: Equatable, CustomStringConvertible {
        var error: String?
        var events: [String]
        var state: String

        var description: String { "error=\(error ?? "-") events=\(events) state=\(state)" }
    }

    static func pythonScript(dir: String) -> String {
        var s = """
            import libvirt, json, sys
            libvirt.virEventRegisterDefaultImpl()
            libvirt.registerErrorHandler(lambda ctx, err: None, None)
            c = libvirt.open('test:///default')
            evs = []
            def cb(conn, dom, ev, det, opaque):
                evs.append('%d/%d %s %d' % (ev, det, dom.name(), dom.ID()))
            c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, cb, None)
            def d(n):
                return c.lookupByName(n)
            def drain():
                done = [False]
                def t(timer, opaque):
                    done[0] = True
                tid = libvirt.virEventAddTimeout(20, t, None)
                while not done[0]:
                    libvirt.virEventRunDefaultImpl()
                libvirt.virEventRemoveTimeout(tid)
            def step(f, target):
                global evs
                evs = []
                err = None
                try:
                    f()
                except libvirt.libvirtError as e:
                    err = '%d/%d %s' % (e.get_error_code(), e.get_error_domain(), e.get_error_message())
                drain()
                try:
                    x = c.lookupByName(target)
                    st, rs = x.state()
                    state = '%d/%d id=%d persistent=%d managed=%d autostart=%d\\n%s\\n%s' % (st, rs, x.ID(), x.isPersistent(), x.hasManagedSaveImage(), x.autostart(), x.XMLDesc(0), x.XMLDesc(2))
                except libvirt.libvirtError as e:
                    state = 'gone'
                print(json.dumps({'error': err, 'events': evs, 'state': state}))
                sys.stdout.flush()

            """
        for step in scenario {
            s += "step(lambda: \(step.python(dir: dir)), '\(step.target)')\n"
        }
        return s
    }

    static func swiftOutcomes(dir: String) async throws -> [Outcome] {
        let c = try await Support.freshConnection()
        defer { Task { await c.close() } }
        var events = EventReader(c.events())
        var out: [Outcome] = []
        // Each step is followed by a sentinel event (autostart changes emit nothing, so a define/undefine pair of a
        // scratch domain is used), so exactly the step's own events are taken.
        let sentinelXML = Support.domainXML("sentinel-domain", uuid: "99999999-9999-9999-9999-999999999999")
        for step in scenario {
            var error: String?
            do {
                try await step.run(c, dir: dir)
            } catch let e as VirtError {
                error = "\(e.code.rawValue)/\(e.domain.rawValue) \(e.message)"
            }
            let sentinel = try await c.defineDomain(xml: sentinelXML)
            try await sentinel.undefine()
            var evs: [String] = []
            while let (t, detail, name, id) = await events.next() {
                if name == "sentinel-domain" {
                    _ = await events.next()
                    break
                }
                evs.append("\(t.rawValue)/\(detail) \(name) \(id)")
            }
            var state = "gone"
            if let x = try? await c.lookupDomain(name: step.target) {
                let st = try await x.state()
                state = "\(st.state.rawValue)/\(st.reason) id=\(x.id) persistent=\(try await x.isPersistent() ? 1 : 0)"
                    + " managed=\(try await x.hasManagedSaveImage() ? 1 : 0)"
                    + " autostart=\(try await x.autostart() ? 1 : 0)\n\(try await x.xmlDesc())\n"
                    + (try await x.xmlDesc(flags: .inactive))
            }
            out.append(Outcome(error: error, events: evs, state: state))
        }
        return out
    }

    @Test func lifecycleScenarioMatchesReference() async throws {
        try await Support.withTempDir { dirURL in
            let dir = dirURL.path
            let text = try Reference.python(Self.pythonScript(dir: dir))
            var reference: [Outcome] = []
            for line in text.split(separator: "\n") {
                let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                reference.append(Outcome(error: obj["error"] as? String, events: obj["events"] as? [String] ?? [],
                                         state: obj["state"] as? String ?? "?"))
            }
            try #require(reference.count == Self.scenario.count)
            for f in try FileManager.default.contentsOfDirectory(atPath: dir) {
                try FileManager.default.removeItem(atPath: dir + "/" + f)
            }
            let ours = try await Self.swiftOutcomes(dir: dir)
            for (i, step) in Self.scenario.enumerated() {
                #expect(ours[i] == reference[i], "step \(i) \(step)")
            }
        }
    }
}
