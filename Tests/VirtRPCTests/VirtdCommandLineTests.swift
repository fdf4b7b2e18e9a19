import Foundation
import Testing
import VirtTestSupport

/// virtd's command line, on the built binary: help, errors, and every option taking effect.
@Suite("virtd command line")
struct VirtdCommandLineTests {
    @Test("--help prints the usage and exits 0; unknown options and bad values exit 64 with an error")
    func helpAndErrors() throws {
        let help = try ChildProcess.run([TestPaths.virtd, "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: virtd [--root <root>]"))
        #expect(help.stdout.contains("-l, --listen"))
        let bad = try ChildProcess.run([TestPaths.virtd, "--bogus"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("Error: Unknown option '--bogus'"))
        let port = try ChildProcess.run([TestPaths.virtd, "--tcp-port", "x"])
        #expect(port.status == 64)
        #expect(port.stderr.contains("'x' is invalid for '--tcp-port"))
        let missing = try ChildProcess.run([TestPaths.virtd, "--root"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("Missing value for '--root'"))
        let dir = try TestPaths.makeTempDir("virtd-cl", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let noConf = try ChildProcess.run([TestPaths.virtd, "--root", dir, "-f", dir + "/absent.conf"])
        #expect(noConf.status == 64)
        #expect(noConf.stderr.contains("cannot read config file \(dir)/absent.conf"))
    }

    @Test("--root=DIR, -f FILE, -l and --tcp-port 0: the daemon uses that config and listens on TCP")
    func optionsTakeEffect() throws {
        let dir = try TestPaths.makeTempDir("virtd-cl", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // The config named by -f (not DIR/etc/virtd.conf) allows TCP; -l turns it on, --tcp-port 0 picks a port.
        try "log_level = 2\nlisten_tls = 0\nlisten_tcp = 1\nauth_tcp = \"none\"\n".write(toFile: dir + "/other.conf", atomically: true,
                                                           encoding: .utf8)
        let p = try ChildProcess.spawn([TestPaths.virtd, "--root=\(dir)", "-f", dir + "/other.conf", "-l",
                                        "--tcp-port", "0"])
        defer { p.terminate() }
        #expect(waitFor(path: dir + "/run/virtd.pid"))
        let log = (try? String(contentsOfFile: dir + "/log/virtd.log", encoding: .utf8)) ?? ""
        let port = log.split(separator: "\n").compactMap { line -> Int? in
            guard let r = line.range(of: "tcp port ") else { return nil }
            return Int(line[r.upperBound...])
        }.first
        #expect((port ?? 0) > 0, "\(log)")
        if let port {
            let r = try ChildProcess.run(["/usr/bin/virsh", "-c", "test+tcp://127.0.0.1:\(port)/default", "domstate", "test"])
            #expect(r.status == 0 && r.stdout.contains("running"), "\(r.stderr)")
        }
    }

    @Test("--verbose logs every call (procedure, client, domain, duration, result) and failures at warning")
    func callsAreLogged() throws {
        let d = try VirtdProcess(extraArgs: ["--verbose"])
        defer { d.stop() }
        let ok = try ChildProcess.run(["/usr/bin/virsh", "-c", d.testURI, "domstate", "test"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let bad = try ChildProcess.run(["/usr/bin/virsh", "-c", d.testURI, "domstate", "nosuch"])
        #expect(bad.status != 0)
        let log = (try? String(contentsOfFile: d.dir + "/log/virtd.log", encoding: .utf8)) ?? ""
        let lines = log.split(separator: "\n")
        let state = lines.filter { $0.contains("debug: remote.dispatch: call DOMAIN_GET_STATE (212) client ") }
        #expect(state.contains { $0.contains(" domain 'test': ok in ") && $0.hasSuffix(" ms") }, "\(log)")
        #expect(lines.contains { $0.contains("debug: remote.dispatch: call CONNECT_OPEN (1) client ") && $0.contains(": ok in ") },
                "\(log)")
        #expect(lines.contains {
            $0.contains("warning: remote.dispatch: call DOMAIN_LOOKUP_BY_NAME (23) client ")
                && $0.contains(": failed in ")
                && $0.hasSuffix(" ms: Domain not found (code 42)")
        }, "\(log)")
    }

    @Test("log_filters and log_outputs in libvirt's syntax: per-category levels, outputs with their own levels; bad entries stop the daemon")
    func logFiltersAndOutputs() throws {
        let dir = try TestPaths.makeTempDir("virtd-log", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Calls (category remote.dispatch) at debug, the RPC server (rpc.server) only at error, the rest at warning;
        // one file takes everything that passes, the other only warnings and errors.
        let d = try VirtdProcess(config: """
            log_level = 3
            log_filters = "1:remote 4:rpc"
            log_outputs = "1:file:\(dir)/all.log 3:file:\(dir)/warn.log"

            """)
        defer { d.stop() }
        #expect(try ChildProcess.run(["/usr/bin/virsh", "-c", d.testURI, "domstate", "test"]).status == 0)
        #expect(try ChildProcess.run(["/usr/bin/virsh", "-c", d.testURI, "domstate", "nosuch"]).status != 0)
        let all = (try? String(contentsOfFile: dir + "/all.log", encoding: .utf8)) ?? ""
        let warn = (try? String(contentsOfFile: dir + "/warn.log", encoding: .utf8)) ?? ""
        #expect(all.contains("debug: remote.dispatch: call DOMAIN_GET_STATE (212)"), "\(all)")
        #expect(all.contains("warning: remote.dispatch: call DOMAIN_LOOKUP_BY_NAME (23)"), "\(all)")
        #expect(!warn.contains("call DOMAIN_GET_STATE"), "\(warn)")
        #expect(warn.contains("warning: remote.dispatch: call DOMAIN_LOOKUP_BY_NAME (23)"), "\(warn)")
        // rpc.server's "listening on" (info) is below its filter; daemon's "virtd ready" (info) below log_level.
        #expect(!all.contains("listening on") && !all.contains("virtd ready"), "\(all)")
        // log_outputs replaces the default outputs: no DIR/log/virtd.log.
        #expect(!FileManager.default.fileExists(atPath: d.dir + "/log/virtd.log"))

        // A glob filter matches the whole category: "1:remote.*" as "1:remote".
        let g = try VirtdProcess(config: "log_filters = \"1:remote.*\"\nlog_outputs = \"1:file:\(dir)/glob.log\"\n")
        defer { g.stop() }
        #expect(try ChildProcess.run(["/usr/bin/virsh", "-c", g.testURI, "domstate", "test"]).status == 0)
        let glob = (try? String(contentsOfFile: dir + "/glob.log", encoding: .utf8)) ?? ""
        #expect(glob.contains("call DOMAIN_GET_STATE (212)"), "\(glob)")

        for (bad, words) in [("log_outputs = \"1:bogus\"", "log_outputs: '1:bogus': unknown destination"),
                             ("log_outputs = \"1:file:relative.log\"", "needs an absolute file path"),
                             ("log_filters = \"7:qemu\"", "log_filters: '7:qemu' is not LEVEL:MATCH"),
                             ("log_outputs = \"1:file:\(dir)/no/such/dir.log\"", "cannot open log output file \(dir)/no/such/dir.log")] {
            try (bad + "\n").write(toFile: dir + "/bad.conf", atomically: true, encoding: .utf8)
            let r = try ChildProcess.run([TestPaths.virtd, "--root", dir + "/root", "-f", dir + "/bad.conf"], timeLimit: 30)
            #expect(r.status != 0, "\(bad)")
            #expect(r.stderr.contains(words), "\(bad): \(r.stderr)")
        }
    }
}
