import Foundation
import Testing
import VirtTestSupport

/// libvirt-python 9.0's own tests (the tests/ directory of Debian's python3-libvirt source, unpacked by
/// scripts/fetch-libvirt-python-tests.sh), unchanged, run by Debian's python3-libvirt against virtd and against
/// libvirtd 9.0: every connection they open to `test:///…` goes to the daemon (test+unix). Each test's outcome,
/// with the last line of any failure, must be the same on both daemons, so every test that passes against
/// libvirtd passes against virtd. Each daemon gets the suite twice: the test driver's default state lives
/// while a connection is open and starts afresh after the last one closes, which test_storage's testVol
/// needs (it creates the same volume every time).
@Suite("libvirt-python's own tests: virtd vs libvirtd 9.0", .serialized, .tags(.referenceLibvirtd, .root))
struct LibvirtPythonSuiteTests {
    static let testsDir = TestPaths.repoRoot + "/.build/libvirt-python/src/tests"
    static let runner = TestPaths.repoRoot + "/Tests/VirtRPCTests/Resources/libvirt_python_tests.py"

    static func run(_ daemon: TestDaemon) throws -> [String] {
        let r = try ChildProcess.run(["/usr/bin/python3", runner, daemon.socket, testsDir], timeLimit: 300)
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout.split(separator: "\n").map(String.init)
    }

    /// "<test id>: <outcome>" lines into id → outcome.
    static func outcomes(_ lines: [String]) -> [String: String] {
        var m: [String: String] = [:]
        for l in lines where l.hasPrefix("test_") {
            guard let r = l.range(of: ": ") else { continue }
            m[String(l[..<r.lowerBound])] = String(l[r.upperBound...])
        }
        return m
    }

    @Test("every test that passes against libvirtd passes against virtd, with the same outcome for the others")
    func sameOutcomes() throws {
        #expect(FileManager.default.fileExists(atPath: Self.testsDir + "/test_domain.py"),
                "libvirt-python's tests are missing: run scripts/fetch-libvirt-python-tests.sh")
        let ref = try ReferenceLibvirtd()
        defer { ref.stop() }
        let ours = try VirtdProcess()
        defer { ours.stop() }
        let theirs = [try Self.run(ref), try Self.run(ref)]
        let mine = [try Self.run(ours), try Self.run(ours)]
        for (round, (m, t)) in zip(mine, theirs).enumerated() {
            let mo = Self.outcomes(m), to = Self.outcomes(t)
            #expect(Set(mo.keys) == Set(to.keys), "round \(round + 1): virtd ran \(mo.keys.sorted()), libvirtd \(to.keys.sorted())")
            for (id, outcome) in to.sorted(by: { $0.key < $1.key }) where mo[id] != outcome {
                Issue.record("round \(round + 1), \(id): virtd \(mo[id] ?? "not run"), libvirtd \(outcome)")
            }
            // The suite really ran against the daemons: the tests that use test:///default (network, storage,
            // node devices, interfaces, snapshots, checkpoints, scheduler parameters, screenshot) pass on both,
            // and the connections went to the daemon.
            let passed = to.filter { $0.value == "ok" }.keys
            #expect(passed.count >= 12, "round \(round + 1): libvirtd passed only \(passed.sorted())")
            for id in ["test_storage.TestLibvirtStorage.testVol", "test_network.TestLibvirtNetwork.testAttr",
                       "test_domain.TestLibvirtDomain.testScreenshot",
                       "test_domain_snapshot.TestLibvirtDomainSnapshot.testSnapCreate"] {
                #expect(mo[id] == "ok", "round \(round + 1), \(id): \(mo[id] ?? "not run")")
            }
            #expect(m.last == t.last && (m.last ?? "").contains("test+unix:///default?socket=SOCKET"),
                    "virtd: \(m.last ?? "")\nlibvirtd: \(t.last ?? "")")
        }
    }
}
