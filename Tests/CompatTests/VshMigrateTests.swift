import Synchronization
import Testing
import Virt
@testable import vsh

/// vsh's migration commands: how `migrate`'s options become flags and typed parameters (virsh 9.0's cmdMigrate
/// and doMigrate), and the commands run against recording fake drivers (progress, post-copy switch, timeout).
@MainActor
@Suite(.serialized) struct VshMigrateTests {
    struct ParseFailure: Error, CustomStringConvertible { var description: String }

    static func parse(_ line: String) throws -> ParsedCommand {
        var tokenizer = CommandTokenizer(string: line)
        do {
            let commands = try CommandParser(registry: .standard).parse(&tokenizer)
            guard let first = commands.first else { throw ParseFailure(description: "no command in \(line)") }
            return first
        } catch let failure as CommandParser.Failure {
            throw ParseFailure(description: failure.message)
        }
    }

    static func request(_ line: String, files: [String: String] = [:]) throws
        -> Result<MigrateOptions.Request, MigrateOptions.Failure> {
        MigrateOptions.request(try parse(line), readFile: { files[$0] })
    }

    static func failure(_ message: String) -> Result<MigrateOptions.Request, MigrateOptions.Failure> {
        .failure(MigrateOptions.Failure(message: message))
    }

    // MARK: Options to flags and parameters

    @Test func everyFlagOption() throws {
        let line = "migrate vm qemu+ssh://h/system --live --p2p --tunnelled --persistent --undefinesource --suspend "
            + "--copy-storage-all --copy-storage-synchronous-writes --change-protection --unsafe --compressed "
            + "--auto-converge --rdma-pin-all --abort-on-error --postcopy --postcopy-resume --zerocopy --tls --parallel"
        let expected: MigrateFlags = [.live, .peer2peer, .tunnelled, .persistDest, .undefineSource, .paused,
                                      .nonSharedDisk, .nonSharedSynchronousWrites, .changeProtection, .unsafe,
                                      .compressed, .autoConverge, .rdmaPinAll, .abortOnError, .postcopy,
                                      .postcopyResume, .zerocopy, .tls, .parallel]
        #expect(try Self.request(line) == .success(.init(desturi: "qemu+ssh://h/system", flags: expected)))
        #expect(try Self.request("migrate vm u --offline --copy-storage-inc --tunneled")
            == .success(.init(desturi: "u", flags: [.offline, .nonSharedInc, .tunnelled])))
        // Options that only steer vsh set no flag.
        #expect(try Self.request("migrate vm u --direct --verbose --postcopy-after-precopy --timeout 5 --timeout-suspend")
            == .success(.init(desturi: "u")))
    }

    @Test func parametersInVirshOrderWithTheirTypes() throws {
        let line = "migrate vm qemu+tcp://dst/system tcp:dst:49152 --graphicsuri spice://dst --listen-address 0.0.0.0 "
            + "--dname vm2 --timeout 10 --xml new.xml --migrate-disks vda,,vdb --disks-port 49153 "
            + "--disks-uri tcp://dst:1 --comp-methods mt,xbzrle --comp-mt-level 9 --comp-mt-threads 2 "
            + "--comp-mt-dthreads 3 --comp-xbzrle-cache 1048576 --auto-converge-initial 20 "
            + "--auto-converge-increment 5 --persistent-xml persist.xml --persistent --tls-destination dst.example "
            + "--tls --postcopy-bandwidth 50 --parallel-connections 4 --bandwidth 100"
        let files = ["new.xml": "<domain>new</domain>", "persist.xml": "<domain>persist</domain>"]
        let expected: [TypedParam] = [
            TypedParam("migrate_uri", .string("tcp:dst:49152")),
            TypedParam("graphics_uri", .string("spice://dst")),
            TypedParam("listen_address", .string("0.0.0.0")),
            TypedParam("disks_port", .int(49153)),
            TypedParam("disks_uri", .string("tcp://dst:1")),
            TypedParam("destination_name", .string("vm2")),
            TypedParam("migrate_disks", .string("vda")),
            TypedParam("migrate_disks", .string("")),
            TypedParam("migrate_disks", .string("vdb")),
            TypedParam("compression", .string("mt")),
            TypedParam("compression", .string("xbzrle")),
            TypedParam("compression.mt.level", .int(9)),
            TypedParam("compression.mt.threads", .int(2)),
            TypedParam("compression.mt.dthreads", .int(3)),
            TypedParam("compression.xbzrle.cache", .ullong(1_048_576)),
            TypedParam("destination_xml", .string("<domain>new</domain>")),
            TypedParam("persistent_xml", .string("<domain>persist</domain>")),
            TypedParam("auto_converge.initial", .int(20)),
            TypedParam("auto_converge.increment", .int(5)),
            TypedParam("bandwidth.postcopy", .ullong(50)),
            TypedParam("parallel.connections", .int(4)),
            TypedParam("bandwidth", .ullong(100)),
            TypedParam("tls.destination", .string("dst.example")),
        ]
        #expect(try Self.request(line, files: files)
            == .success(.init(desturi: "qemu+tcp://dst/system", flags: [.persistDest, .tls], params: expected)))
    }

    @Test func disksPortZeroIsNotSent() throws {
        #expect(try Self.request("migrate vm u --disks-port 0") == .success(.init(desturi: "u")))
    }

    @Test func optionErrorsAsVirsh() throws {
        #expect(try Self.request("migrate vm u --bandwidth -1")
            == Self.failure("Numeric value '-1' for <bandwidth> option is malformed or out of range"))
        #expect(try Self.request("migrate vm u --bandwidth 18446744073709551616")
            == Self.failure("Numeric value '18446744073709551616' for <bandwidth> option is malformed or out of range"))
        #expect(try Self.request("migrate vm u --disks-port abc")
            == Self.failure("Numeric value 'abc' for <disks-port> option is malformed or out of range"))
        #expect(try Self.request("migrate vm u --dname ''")
            == Self.failure("Failed to get option 'dname': Option argument is empty"))
        #expect(try Self.request("migrate vm ''") == Self.failure("Failed to get option 'desturi': Option argument is empty"))
        #expect(try Self.request("migrate vm u --xml missing.xml") == Self.failure("cannot read file 'missing.xml'"))
        // dname is read before xml, as in virsh.
        #expect(try Self.request("migrate vm u --xml missing.xml --dname ''")
            == Self.failure("Failed to get option 'dname': Option argument is empty"))
        #expect(try Self.request("migrate vm u --copy-storage-synchronous-writes")
            == Self.failure("'--copy-storage-synchronous-writes' requires one of '--copy-storage-all', 'copy-storage-inc'"))
    }

    @Test func conflictsAndRequirements() throws {
        func conflict(_ line: String) throws -> String? { MigrateOptions.conflict(try Self.parse(line)) }
        #expect(try conflict("migrate vm u --live --offline") == "Options --live and --offline are mutually exclusive")
        #expect(try conflict("migrate vm u --timeout-suspend --timeout-postcopy")
            == "Options --timeout-suspend and --timeout-postcopy are mutually exclusive")
        #expect(try conflict("migrate vm u --postcopy-after-precopy")
            == "Option --postcopy is required by option --postcopy-after-precopy")
        #expect(try conflict("migrate vm u --timeout-postcopy")
            == "Option --postcopy is required by option --timeout-postcopy")
        #expect(try conflict("migrate vm u --persistent-xml x") == "Option --persistent is required by option --persistent-xml")
        #expect(try conflict("migrate vm u --tls-destination x") == "Option --tls is required by option --tls-destination")
        #expect(try conflict("migrate vm u --postcopy --postcopy-after-precopy --live") == nil)
    }

    @Test func timeoutAndItsAction() throws {
        typealias W = MigrateOptions.Watch
        func watch(_ line: String) throws -> Result<W, MigrateOptions.Failure> { MigrateOptions.watch(try Self.parse(line)) }
        #expect(try watch("migrate vm u --verbose") == .success(W(verbose: true)))
        #expect(try watch("migrate vm u --live --timeout 5") == .success(W(timeoutSeconds: 5, action: .suspend)))
        #expect(try watch("migrate vm u --live --timeout 5 --timeout-postcopy --postcopy")
            == .success(W(timeoutSeconds: 5, action: .postcopy)))
        #expect(try watch("migrate vm u --timeout 5")
            == .failure(.init(message: "migrate: Unexpected timeout for offline migration")))
        #expect(try watch("migrate vm u --live --timeout 0 --timeout-suspend")
            == .failure(.init(message: "migrate: Unexpected --timeout-* option without --timeout")))
        #expect(try watch("migrate vm u --live --timeout -3")
            == .failure(.init(message: "Numeric value '-3' for <timeout> option is malformed or out of range")))
    }

    @Test func numbers() {
        #expect(Format.parseUInt64("18446744073709551615") == UInt64.max)
        #expect(Format.parseUInt64(" +7") == 7)
        #expect(Format.parseUInt64("-0") == nil)
        #expect(Format.parseUInt64("1x") == nil)
        #expect(Format.parseUInt64Wrapping("-1") == UInt64.max)
        #expect(Format.parseUInt64Wrapping("-18446744073709551615") == 1)
        #expect(Format.parseUInt64Wrapping("18446744073709551616") == nil)
    }

    // MARK: Commands against fake drivers

    /// A shell on a fake source connection whose `migrate` destination is another fake; output captured.
    @MainActor
    final class Harness {
        let log = MigrationCallLog()
        let shell = Shell(registry: .standard)
        let source: FakeMigrationDriver
        let destination: FakeMigrationDriver
        var stdout = ""
        var stderr = ""
        var openedURIs: [String] = []

        init(source: FakeMigrationDriver.Config = .init(), destination: FakeMigrationDriver.Config = .init()) {
            self.source = FakeMigrationDriver(side: "src", log: log, config: source)
            self.destination = FakeMigrationDriver(side: "dst", log: log, config: destination)
            shell.connection = Connection(driver: self.source)
            let dconn = Connection(driver: self.destination)
            shell.openOtherConnection = { [unowned self] uri in
                self.openedURIs.append(uri)
                return dconn
            }
            shell.output.sink = { [unowned self] fd, bytes in
                if fd == 1 { stdout += String(decoding: bytes, as: UTF8.self) } else {
                    stderr += String(decoding: bytes, as: UTF8.self)
                }
            }
        }

        func run(_ line: String) async throws -> Bool {
            let ok = await shell.run([try VshMigrateTests.parse(line)])
            shell.output.flush()
            return ok
        }
    }

    @Test func clientManagedMigration() async throws {
        let h = Harness()
        #expect(try await h.run("migrate vm qemu+tcp://dst.example/system --live --dname vm2"))
        #expect(h.openedURIs == ["qemu+tcp://dst.example/system"])
        #expect(h.log.names == ["src.begin", "dst.prepare", "src.perform", "dst.finish", "src.confirm"])
        guard case .finish(_, let params, _, _, _) = h.log.all[3] else { Issue.record(); return }
        #expect(params.string(MigrateParam.destName) == "vm2")
        #expect(h.stdout == "\n")
        #expect(h.stderr == "")
    }

    @Test func peerToPeerMigration() async throws {
        let h = Harness()
        #expect(try await h.run("migrate --p2p --live vm qemu+tcp://dst.example/system tcp:dst.example:49152"))
        #expect(h.openedURIs.isEmpty)
        #expect(h.log.all == [.perform(side: "src", dconnuri: "qemu+tcp://dst.example/system",
                                       params: [TypedParam(MigrateParam.uri, .string("tcp:dst.example:49152"))],
                                       cookie: [], flags: [.live, .peer2peer])])
    }

    @Test func failedMigrationPrintsTheLibraryError() async throws {
        var source = FakeMigrationDriver.Config()
        source.failures["perform"] = VirtError(.operationFailed, domain: .qemu, "operation failed: migration failed")
        let h = Harness(source: source)
        #expect(try await !h.run("migrate vm qemu+tcp://dst.example/system --live"))
        #expect(h.stderr == "error: operation failed: migration failed\n")
        #expect(h.log.names == ["src.begin", "dst.prepare", "src.perform", "dst.finish(cancelled)"])
    }

    @Test func verboseProgressFromTheSourceJob() async throws {
        var source = FakeMigrationDriver.Config()
        source.performDuration = .seconds(60)
        source.performWaitsForJobStats = true
        source.jobStats = (2, [TypedParam("data_total", .ullong(1000)), TypedParam("data_remaining", .ullong(400))])
        let h = Harness(source: source)
        #expect(try await h.run("migrate vm qemu+tcp://dst.example/system --live --verbose"))
        #expect(h.stderr.hasPrefix("\rMigration: [ 60 %]"))
        #expect(h.stderr.hasSuffix("\rMigration: [100 %]"))
        #expect(h.stdout == "\n")
    }

    @Test func postcopyAfterFirstIteration() async throws {
        var source = FakeMigrationDriver.Config()
        source.iterations = [1, 2, 3]
        source.performDuration = .seconds(60)
        source.performWaitsForPostCopy = true
        let h = Harness(source: source)
        #expect(try await h.run("migrate vm qemu+tcp://dst.example/system --live --postcopy --postcopy-after-precopy"))
        #expect(h.log.names == ["src.begin", "dst.prepare", "src.perform", "src.startPostCopy", "dst.finish",
                                "src.confirm"])
        guard case .perform(_, _, _, _, let flags) = h.log.all[2] else { Issue.record(); return }
        #expect(flags == [.live, .postcopy])
    }

    @Test func timeoutSwitchesToPostcopy() async throws {
        var source = FakeMigrationDriver.Config()
        source.performDuration = .seconds(60)
        source.performWaitsForPostCopy = true
        let h = Harness(source: source)
        #expect(try await h.run("migrate vm qemu+tcp://dst.example/system --live --postcopy --timeout 1 --timeout-postcopy"))
        #expect(h.log.names.contains("src.startPostCopy"))
    }

    @Test func timeoutSuspendsByDefault() async throws {
        var source = FakeMigrationDriver.Config()
        source.performDuration = .seconds(60)
        source.performWaitsForSuspend = true
        let h = Harness(source: source)
        #expect(try await h.run("migrate vm qemu+tcp://dst.example/system --live --timeout 1"))
        #expect(h.log.names == ["src.begin", "dst.prepare", "src.perform", "src.suspend", "dst.finish", "src.confirm"])
    }

    @Test func tuningCommands() async throws {
        let h = Harness()
        #expect(try await h.run("migrate-getmaxdowntime vm"))
        #expect(try await h.run("migrate-setmaxdowntime vm 500"))
        #expect(try await h.run("migrate-getspeed vm"))
        #expect(try await h.run("migrate-getspeed vm --postcopy"))
        #expect(try await h.run("migrate-setspeed vm -1"))
        #expect(try await h.run("migrate-setspeed --postcopy vm 10"))
        #expect(try await h.run("migrate-postcopy vm"))
        #expect(h.stdout == "300\n\n\n8796093022207\n\n4398046511103\n\n\n\n\n")
        #expect(h.log.names == ["src.setMaxDowntime(500)", "src.maxSpeed(0)", "src.maxSpeed(1)",
                                "src.setMaxSpeed(18446744073709551615,0)", "src.setMaxSpeed(10,1)",
                                "src.startPostCopy"])
        #expect(h.stderr == "")
    }

    @Test func setMaxDowntimeChecks() async throws {
        let h = Harness()
        #expect(try await !h.run("migrate-setmaxdowntime vm 0"))
        #expect(try await !h.run("migrate-setmaxdowntime vm -5"))
        #expect(h.stderr == "error: migrate: Invalid downtime\n"
            + "error: Numeric value '-5' for <downtime> option is malformed or out of range\n")
        #expect(h.log.all.isEmpty)
    }
}
