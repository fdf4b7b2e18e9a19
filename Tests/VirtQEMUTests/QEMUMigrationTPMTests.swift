import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// A migration between two embedded QEMU drivers (two roots, two host UUIDs, QEMU's stream over loopback)
/// of a domain with an emulated TPM whose state is local, run phase by phase as libvirt's client does it,
/// with the recording TPM labeler on both sides: libvirt 9.6's section 1a for an incoming migration (state
/// labelled at start on the destination) and for the source's stop after a successful outgoing migration
/// (labels given back, the state being local).
@Suite("migration between two embedded drivers: TPM labels on both sides", .serialized, .tags(.qemu, .root))
struct QEMUMigrationTPMTests {
    @Test("local TPM state: destination labels state and log at start, source gives them back at its stop")
    func localStateLabels() async throws {
        try TestHost.requireRoot()
        let rootA = try SwtpmDeviceTests.makeRoot("mta")
        let rootB = try SwtpmDeviceTests.makeRoot("mtb")
        defer {
            for root in [rootA, rootB] {
                for pid in SwtpmDeviceTests.swtpmProcesses(mentioning: root) { kill(pid, SIGKILL) }
                TestPaths.removeDir(root)
            }
        }
        let name = "mtpm"
        defer { for pid in ProcFS.qemuProcesses(whose: "cmdline", contains: "guest=\(name),") { kill(pid, SIGKILL) } }
        var cfg = QEMUMigrationConfig()
        cfg.migrationHost = "127.0.0.1"
        cfg.migrationAddress = "127.0.0.1"
        cfg.portMin = 50_207
        cfg.portMax = 50_217
        let a = try await QEMUDriver.open(root: rootA)
        let b = try await QEMUDriver.open(root: rootB)
        await a.setMigrationConfig(cfg)
        await b.setMigrationConfig(cfg)
        let la = RecordingTPMStateLabeler()
        let lb = RecordingTPMStateLabeler()
        await a.state.setTPMLabeler(la)
        await b.state.setTPMLabeler(lb)
        let dom = try await a.defineXML(QEMUTPMStartKindTests.xml(name: name), flags: [])
        _ = try await a.start(dom, flags: [])
        la.reset()
        let stateA = QEMUDriverPaths(root: rootA).swtpmStatePath(uuid: "\(dom.uuid)", version: .v2_0)
        let stateB = QEMUDriverPaths(root: rootB).swtpmStatePath(uuid: "\(dom.uuid)", version: .v2_0)
        let logA = QEMUDriverPaths(root: rootA).swtpmLogFile(name: name)
        let logB = QEMUDriverPaths(root: rootB).swtpmLogFile(name: name)

        // The five phases, as libvirt's virDomainMigrate3 runs them.
        let flags: MigrateFlags = [.live]
        let begun = try await a.migrateBegin3(dom, params: [], flags: flags)
        let prepared = try await b.migratePrepare3(params: [TypedParam(MigrateParam.destXML, .string(begun.xml))],
                                                   cookie: begun.cookie, flags: flags)
        #expect(QEMUTPMStartKindTests.describe(lb.recorded, state: stateB, log: logB) == "set(state) set(log)")
        let uri = try #require(prepared.uri)
        // A port of migration_port_min..max.
        let port = try #require(Int(uri.dropFirst("tcp:127.0.0.1:".count)))
        #expect(uri.hasPrefix("tcp:127.0.0.1:") && (50_207...50_217).contains(port), "\(uri)")
        let c = try await a.migratePerform3(dom, destinationURI: nil, params: [TypedParam(MigrateParam.uri, .string(uri))],
                                            cookie: prepared.cookie, flags: flags)
        let finished = try await b.migrateFinish3(params: [TypedParam(MigrateParam.destName, .string(name))], cookie: c,
                                                  flags: flags, cancelled: false)
        try await a.migrateConfirm3(dom, params: [], cookie: finished.cookie, flags: flags, cancelled: false)
        // Source: stopped after a successful outgoing migration with local state: labels given back.
        #expect(QEMUTPMStartKindTests.describe(la.recorded, state: stateA, log: logA) == "restore(state) restore(log)")
        #expect(try await a.state(dom).state == .shutoff)
        #expect(try await b.state(finished.domain).state == .running)
        #expect(SwtpmDeviceTests.swtpmProcesses(mentioning: stateA).isEmpty)
        #expect(SwtpmDeviceTests.swtpmProcesses(mentioning: stateB).count == 1)
        // The migrated swtpm state is used by the destination's swtpm (QEMU sent it in its stream).
        #expect(FileManager.default.fileExists(atPath: stateB + "/tpm2-00.permall"))
        lb.reset()
        try await b.destroy(finished.domain, flags: [])
        #expect(QEMUTPMStartKindTests.describe(lb.recorded, state: stateB, log: logB) == "restore(state) restore(log)")
    }
}
