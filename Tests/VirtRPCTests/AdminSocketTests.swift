import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// virtd's admin socket against libvirtd 9.0's, with Debian's virt-admin as the client: the same command
/// sequence on both daemons (two virsh clients connected, one read-only), outputs compared after masking what
/// differs by nature (connection times, client pids, log file paths).
@Suite("admin socket: virt-admin against virtd and libvirtd", .serialized, .tags(.root, .referenceLibvirtd))
struct AdminSocketTests {
    /// Runs the sequence on a daemon whose admin socket is `admin` and remote sockets `rw`/`ro`; returns the
    /// transcript.
    static func transcript(admin: String, rw: String, ro: String, dir: String) throws -> String {
        // Two clients that stay connected while the commands run.
        let a = try ChildProcess.spawn(["/bin/sh", "-c", "sleep 30 | /usr/bin/virsh -c 'test+unix:///default?socket=\(rw)'"],
                                       output: .null)
        defer { a.terminate() }
        #expect(eventually(20) { (try? clientCount(admin)) == 1 })
        let b = try ChildProcess.spawn(["/bin/sh", "-c", "sleep 30 | /usr/bin/virsh -r -c 'test+unix:///default?socket=\(ro)'"],
                                       output: .null)
        defer { b.terminate() }
        #expect(eventually(20) { (try? clientCount(admin)) == 2 })
        var out = ""
        func run(_ args: [String]) throws {
            let r = try ChildProcess.run(["/usr/bin/virt-admin", "-c", "libvirtd:///system?socket=\(admin)"] + args,
                                         timeLimit: 30)
            out += "$ \(args.joined(separator: " "))\n[\(r.status)]\n\(r.stdout)\(r.stderr)"
        }
        for cmd in [["version"], ["server-list"], ["server-threadpool-info", "libvirtd"],
                    ["server-threadpool-info", "admin"], ["client-list", "libvirtd"], ["client-list", "admin"],
                    ["server-clients-info", "libvirtd"], ["client-info", "libvirtd", "1"],
                    ["client-info", "libvirtd", "2"], ["daemon-log-filters"], ["daemon-log-filters", "1:rpc 3:util"],
                    ["daemon-log-filters"], ["daemon-log-filters", "bad"], ["daemon-log-outputs"],
                    ["server-threadpool-set", "libvirtd", "--max-workers", "30"],
                    ["server-threadpool-info", "libvirtd"],
                    ["server-threadpool-set", "libvirtd", "--min-workers", "50"],
                    ["server-clients-set", "libvirtd", "--max-clients", "100"], ["server-clients-info", "libvirtd"],
                    ["server-clients-set", "libvirtd", "--max-clients", "0"],
                    ["client-disconnect", "libvirtd", "1"], ["client-list", "libvirtd"],
                    ["client-info", "libvirtd", "99"], ["server-threadpool-info", "nosuch"],
                    ["client-disconnect", "admin", "9999"], ["server-update-tls", "libvirtd"]] {
            try run(cmd)
        }
        // Masks: times, pids, the daemon's directory, and the id of virt-admin's own connection in the admin
        // server's list (it counts the polling connections above, whose number depends on timing).
        var t = out.replacingOccurrences(of: dir, with: "DIR")
        // libvirtd keeps its servers in a hash table: their order (and so their ids) varies between its runs.
        if let r = t.range(of: "$ server-list\n"), let end = t.range(of: "$ ", range: r.upperBound..<t.endIndex) {
            let lines = t[r.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            let names = lines.compactMap { l in l.range(of: #"^ \d+ +"#, options: .regularExpression).map { String(l[$0.upperBound...]) } }
            let rest = lines.filter { $0.range(of: #"^ \d+ +"#, options: .regularExpression) == nil }
            t.replaceSubrange(r.upperBound..<end.lowerBound,
                              with: rest.joined(separator: "\n") + "\nservers: " + names.sorted().joined(separator: ", ") + "\n")
        }
        if let r = t.range(of: "$ client-list admin\n"), let end = t.range(of: "$ ", range: r.upperBound..<t.endIndex) {
            let block = String(t[r.upperBound..<end.lowerBound])
                .replacingOccurrences(of: #"(?m)^ \d+ +unix"#, with: " N    unix", options: .regularExpression)
            t.replaceSubrange(r.upperBound..<end.lowerBound, with: block)
        }
        for (pattern, with) in [(#"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+0000"#, "TIME"),
                                (#"unix_process_id: \d+"#, "unix_process_id: PID")] {
            t = t.replacingOccurrences(of: pattern, with: with, options: .regularExpression)
        }
        return t
    }

    /// Clients of the "libvirtd" server, from virt-admin.
    static func clientCount(_ admin: String) throws -> Int {
        let r = try ChildProcess.run(["/usr/bin/virt-admin", "-c", "libvirtd:///system?socket=\(admin)",
                                      "server-clients-info", "libvirtd"], timeLimit: 30)
        for line in r.stdout.split(separator: "\n") where line.hasPrefix("nclients ") {
            return Int(line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? -1
        }
        return -1
    }

    @Test("server, worker pool, client limits, clients (list, identity, disconnect), logging: virt-admin's output equal")
    func sameAsLibvirtd() throws {
        let ref = try ReferenceLibvirtd()
        defer { ref.stop() }
        let theirs = try Self.transcript(admin: ref.dir + "/libvirt-admin-sock", rw: ref.socket, ro: ref.readOnlySocket,
                                         dir: ref.dir)
        // The same log output as the reference's configuration (one file), so the outputs read back alike.
        let dir = try TestPaths.makeTempDir("adm", mode: 0o755)
        defer { TestPaths.removeDir(dir) }
        let d = try VirtdProcess(config: "log_outputs = \"3:file:\(dir)/libvirtd.log\"\n")
        defer { d.stop() }
        let mode = try FileManager.default.attributesOfItem(atPath: d.dir + "/run/virtd-admin-sock")[.posixPermissions] as? Int
        #expect(mode == 0o700)
        let ours = try Self.transcript(admin: d.dir + "/run/virtd-admin-sock", rw: d.socket, ro: d.readOnlySocket, dir: dir)
        let a = theirs.split(separator: "\n", omittingEmptySubsequences: false)
        let b = ours.split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<max(a.count, b.count) where (i < a.count ? a[i] : "") != (i < b.count ? b[i] : "") {
            Issue.record("line \(i + 1): libvirtd '\(i < a.count ? a[i] : "")' virtd '\(i < b.count ? b[i] : "")'")
        }
        #expect(ours == theirs, "libvirtd:\n\(theirs)\nvirtd:\n\(ours)")
        // The filters set through the admin socket took effect: rpc at debug reaches the log.
        #expect(ours.contains("Logging filters: 1:*rpc* 3:*util*"))
    }

    @Test("unix_sock_admin_perms sets the admin socket's mode; the remote program is refused on it")
    func permsAndProgram() throws {
        let d = try VirtdProcess(config: "unix_sock_admin_perms = \"0770\"\n")
        defer { d.stop() }
        let path = d.dir + "/run/virtd-admin-sock"
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o770)
        let r = try ChildProcess.run(["/usr/bin/virsh", "-c", "test+unix:///default?socket=\(path)", "list"], timeLimit: 30)
        #expect(r.status != 0 && r.stderr.contains("Cannot find program 536903814 version 1"), "\(r)")

        // Logging changed while the daemon runs: a new output at debug level and a filter that lets the call
        // log's debug lines through; the next call is logged there.
        let log = d.dir + "/log/admin-set.log"
        func admin(_ args: String...) throws -> ChildProcess.Result {
            try ChildProcess.run(["/usr/bin/virt-admin", "-c", "libvirtd:///system?socket=\(path)"] + args, timeLimit: 30)
        }
        #expect(try admin("daemon-log-outputs", "1:file:\(log)").status == 0)
        #expect(try admin("daemon-log-filters", "1:remote.dispatch 3:rpc 3:daemon").status == 0)
        #expect(try ChildProcess.run(["/usr/bin/virsh", "-c", "test+unix:///default?socket=\(d.socket)", "domstate", "test"],
                                     timeLimit: 30).status == 0)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("call DOMAIN_GET_STATE (212)"), "\(text)")
        #expect(try admin("daemon-log-outputs").stdout.contains("1:file:\(log)"))
        // An output that cannot be opened is refused with the reason; the outputs in use stay.
        let bad = try admin("daemon-log-outputs", "1:file:\(d.dir)/missing-dir/x.log")
        #expect(bad.status != 0 && bad.stderr.contains("cannot open log output file"), "\(bad)")
        #expect(try admin("daemon-log-outputs").stdout.contains("1:file:\(log)"))
    }
}
