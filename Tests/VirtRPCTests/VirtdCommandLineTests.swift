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
        try "log_level = 2\nauth_tcp = \"none\"\n".write(toFile: dir + "/other.conf", atomically: true,
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
}
