import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Access control with the `rules` access driver, driven by Debian's virsh and python3-libvirt run as other
/// users (runuser): libvirt's `@acl` permissions checked after the object is found, flag-dependent permissions,
/// listings and events filtered, denials in libvirt's words; the unix socket's group and the peer's
/// credentials (SO_PEERCRED) in the call log.
@Suite("access control: the rules driver through virtd", .serialized, .tags(.root))
struct AccessControlTests {
    static let rules = """
        # nobody: may connect and see/read the web* domains, start web2 only; nothing else
        allow user=nobody object=connect perm=getattr,read,search_domains,search_networks,search_storage_pools
        allow user=nobody object=network name=def* perm=getattr,read
        allow user=nobody object=storage_pool name=default* perm=getattr,read
        allow user=nobody object=domain name=web2 perm=start,stop
        allow user=nobody object=domain name=web* perm=getattr,read
        deny user=nobody
        # daemon: not even a connection
        deny user=daemon

        """

    static func runAs(_ user: String, _ uri: String, _ args: [String]) throws -> ChildProcess.Result {
        try ChildProcess.run(["/usr/sbin/runuser", "-u", user, "--", "/usr/bin/virsh", "-c", uri] + args, timeLimit: 60)
    }

    @Test("what nobody may do: only the web* domains listed and read, start allowed on web2 only; not found comes first; daemon cannot connect")
    func permissions() throws {
        let dir = try TestPaths.makeTempDir("acl", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/etc", withIntermediateDirectories: true)
        try Self.rules.write(toFile: dir + "/etc/access.rules", atomically: true, encoding: .utf8)
        let conf = "access_drivers = [ \"rules\" ]\nunix_sock_rw_perms = \"0777\"\nunix_sock_group = \"nogroup\"\nlog_level = 1\n"
        try conf.write(toFile: dir + "/etc/virtd.conf", atomically: true, encoding: .utf8)
        let p = try ChildProcess.spawn([TestPaths.virtd, "--root", dir])
        defer { p.terminate() }
        #expect(waitFor(path: dir + "/run/virtd.pid"))
        chmod(dir + "/run", 0o755)
        let uri = "test+unix:///default?socket=\(dir)/run/virtd-sock"
        // The test driver's state lives while a client is connected; this one holds it for the whole test.
        let holder = try connectionHolder(uri, dir: dir)
        defer { holder.terminate() }
        for n in ["web1", "web2"] {
            try "<domain type='test'><name>\(n)</name><memory>8192</memory><os><type>hvm</type></os></domain>"
                .write(toFile: dir + "/\(n).xml", atomically: true, encoding: .utf8)
            #expect(try virsh(uri, "define \(dir)/\(n).xml").status == 0)
        }
        // The socket: the configured group and mode.
        var st = stat()
        #expect(stat(dir + "/run/virtd-sock", &st) == 0)
        #expect(st.st_mode & 0o777 == 0o777)
        #expect(st.st_gid == (getgrnam("nogroup")?.pointee.gr_gid ?? 0))

        // Root (no rule) sees everything.
        #expect(try virsh(uri, "list --all --name").stdout.split(separator: "\n").sorted() == ["test", "web1", "web2"])
        let list = try Self.runAs("nobody", uri, ["list", "--all", "--name"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.split(separator: "\n").sorted() == ["web1", "web2"], "\(list.stdout)")
        // Lookups: a domain nobody may not getattr is denied once found; a missing one is "not found".
        let hidden = try Self.runAs("nobody", uri, ["domuuid", "test"])
        #expect(hidden.status != 0)
        let py = try ChildProcess.run(["/usr/sbin/runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", """
            import libvirt, sys
            c = libvirt.open(sys.argv[1])
            for name in ["test", "nosuch", "web1"]:
                try:
                    d = c.lookupByName(name)
                    print(name, "found", d.info()[0])
                except libvirt.libvirtError as e:
                    print(name, e.get_error_code(), e.get_error_domain(), e.get_error_message())
            for call in ["create", "shutdown"]:
                try:
                    getattr(c.lookupByName("web1"), call)()
                    print("web1", call, "ok")
                except libvirt.libvirtError as e:
                    print("web1", call, e.get_error_code(), e.get_error_domain(), e.get_error_message())
            d = c.lookupByName("web2")
            d.create()
            print("web2 start ok", d.isActive())
            d.destroy()
            print("web2 destroy ok", d.isActive())
            print("numOfDefined", c.numOfDefinedDomains(), sorted(c.listDefinedDomains()))
            print("numOf", c.numOfDomains(), c.listDomainsID())
            print("stats", sorted(s[0].name() for s in c.getAllDomainStats()))
            """, uri], timeLimit: 60)
        #expect(py.status == 0, "\(py.stderr)")
        let lines = py.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("test 88 55 access denied: 'Test' denied access"), "\(py.stdout)")
        #expect(lines.contains("nosuch 42 12 Domain not found"), "\(py.stdout)")
        #expect(lines.contains("web1 found 5"), "\(py.stdout)")
        #expect(lines.contains("web1 create 88 55 access denied: 'Test' denied access"), "\(py.stdout)")
        #expect(lines.contains("web1 shutdown 88 55 access denied: 'Test' denied access"), "\(py.stdout)")
        #expect(lines.contains("web2 start ok 1") && lines.contains("web2 destroy ok 0"), "\(py.stdout)")
        #expect(lines.contains("numOfDefined 2 ['web1', 'web2']"), "\(py.stdout)")
        #expect(lines.contains("numOf 0 []"), "\(py.stdout)")  // "test" runs, but nobody may not see it
        #expect(lines.contains("stats ['web1', 'web2']"), "\(py.stdout)")

        // A flag-dependent permission: the XML needs domain:read, with --security-info also read_secure.
        #expect(try Self.runAs("nobody", uri, ["dumpxml", "web1"]).status == 0)
        let secure = try Self.runAs("nobody", uri, ["dumpxml", "--security-info", "web1"])
        #expect(secure.status != 0 && secure.stderr.contains("access denied: 'Test' denied access"), "\(secure.stderr)")
        // A definition is checked on the name it gives.
        let def = try Self.runAs("nobody", uri, ["define", dir + "/web1.xml"])
        #expect(def.status != 0 && def.stderr.contains("access denied"), "\(def.stderr)")

        // Networks: listed and read as the rules say; changes denied; a hidden network is denied once found.
        try "<network><name>other</name><bridge name='virbr9'/></network>"
            .write(toFile: dir + "/other-net.xml", atomically: true, encoding: .utf8)
        #expect(try virsh(uri, "net-define \(dir)/other-net.xml").status == 0)
        let nets = try Self.runAs("nobody", uri, ["net-list", "--all", "--name"])
        #expect(nets.stdout.split(separator: "\n").map(String.init) == ["default"], "\(nets.stdout) \(nets.stderr)")
        #expect(try Self.runAs("nobody", uri, ["net-dumpxml", "default"]).status == 0)
        let netDestroy = try Self.runAs("nobody", uri, ["net-destroy", "default"])
        #expect(netDestroy.status != 0 && netDestroy.stderr.contains("access denied: 'Test' denied access"), "\(netDestroy.stderr)")
        let otherNet = try Self.runAs("nobody", uri, ["net-info", "other"])
        #expect(otherNet.status != 0 && otherNet.stderr.contains("access denied"), "\(otherNet.stderr)")
        let noNet = try Self.runAs("nobody", uri, ["net-info", "nosuch"])
        #expect(noNet.stderr.contains("Network not found"), "\(noNet.stderr)")

        // Storage pools likewise.
        try "<pool type='dir'><name>other-pool</name><target><path>/other</path></target></pool>"
            .write(toFile: dir + "/other-pool.xml", atomically: true, encoding: .utf8)
        #expect(try virsh(uri, "pool-define \(dir)/other-pool.xml").status == 0)
        let pools = try Self.runAs("nobody", uri, ["pool-list", "--all", "--name"])
        #expect(pools.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) } == ["default-pool"],
                "\(pools.stdout) \(pools.stderr)")
        let poolDestroy = try Self.runAs("nobody", uri, ["pool-destroy", "default-pool"])
        #expect(poolDestroy.status != 0 && poolDestroy.stderr.contains("access denied"), "\(poolDestroy.stderr)")

        // daemon: refused at CONNECT_OPEN (connect:getattr).
        let out = try Self.runAs("daemon", uri, ["list"])
        #expect(out.status != 0 && out.stderr.contains("access denied: 'Test' denied access"), "\(out.stderr)")

        // The call log names the peer's uid (SO_PEERCRED).
        let nobodyUID = getpwnam("nobody")?.pointee.pw_uid ?? 65534
        let log = (try? String(contentsOfFile: dir + "/log/virtd.log", encoding: .utf8)) ?? ""
        let denied = log.split(separator: "\n").filter {
            $0.contains("warning: remote.dispatch: call DOMAIN_CREATE (9) client ")
                && $0.contains(" uid \(nobodyUID) domain 'web1': failed in ")
                && $0.hasSuffix("access denied: 'Test' denied access (code 88)")
        }
        #expect(denied.count == 1, "\(log.suffix(3000))")
    }

    @Test("events: a client gets only the events of domains it may getattr")
    func events() throws {
        let dir = try TestPaths.makeTempDir("acl", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/etc", withIntermediateDirectories: true)
        try Self.rules.write(toFile: dir + "/etc/access.rules", atomically: true, encoding: .utf8)
        try "access_drivers = [ \"rules\" ]\nunix_sock_rw_perms = \"0777\"\nlog_level = 3\n"
            .write(toFile: dir + "/etc/virtd.conf", atomically: true, encoding: .utf8)
        let p = try ChildProcess.spawn([TestPaths.virtd, "--root", dir])
        defer { p.terminate() }
        #expect(waitFor(path: dir + "/run/virtd.pid"))
        chmod(dir + "/run", 0o755)
        let uri = "test+unix:///default?socket=\(dir)/run/virtd-sock"
        let out = dir + "/events.txt"
        FileManager.default.createFile(atPath: out, contents: nil)
        chmod(out, 0o666)
        let watcher = try ChildProcess.spawn(["/usr/sbin/runuser", "-u", "nobody", "--", "/usr/bin/virsh", "-c", uri,
                                              "event", "--all", "--loop"], output: .file(out))
        defer { watcher.terminate() }
        func text() -> String { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
        // Registered once a web* marker's definition shows up.
        // (With a UUID, so that defining it again is an update, with its event.)
        try "<domain type='test'><name>webmark</name><uuid>5a1e4d3c-0000-4000-8000-00000000acac</uuid><memory>8192</memory><os><type>hvm</type></os></domain>"
            .write(toFile: dir + "/webmark.xml", atomically: true, encoding: .utf8)
        #expect(eventually(30) {
            _ = try? virsh(uri, "define \(dir)/webmark.xml")
            return text().contains("webmark")
        })
        #expect(try virsh(uri, "suspend test; resume test").status == 0)
        #expect(try virsh(uri, "undefine webmark").status == 0)
        #expect(eventually(30) { text().contains("event 'lifecycle' for domain 'webmark': Undefined") }, "\(text())")
        #expect(!text().contains("'test'"), "\(text())")
    }

    @Test("bad access configuration stops the daemon with the reason")
    func badConfiguration() throws {
        let dir = try TestPaths.makeTempDir("acl", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/etc", withIntermediateDirectories: true)
        for (conf, rules, words) in [
            ("access_drivers = [ \"polkit\" ]\n", "", "Cannot find security driver 'polkit'"),
            ("access_drivers = [ \"rules\" ]\n", "allow user=nobody\npermit everyone\n",
             "access rules line 2: expected 'allow' or 'deny', not 'permit'"),
            ("access_drivers = [ \"rules\" ]\n", "allow color=blue\n", "access rules line 1: unknown condition 'color'"),
            ("access_drivers = [ \"rules\" ]\naccess_rules_file = \"\(dir)/absent.rules\"\n", "",
             "cannot read access rules file \(dir)/absent.rules"),
            ("unix_sock_group = \"no-such-group-here\"\n", "", "Failed to parse group 'no-such-group-here'"),
        ] {
            try conf.write(toFile: dir + "/etc/virtd.conf", atomically: true, encoding: .utf8)
            try rules.write(toFile: dir + "/etc/access.rules", atomically: true, encoding: .utf8)
            let r = try ChildProcess.run([TestPaths.virtd, "--root", dir], timeLimit: 30)
            #expect(r.status != 0, "\(conf)")
            #expect(r.stderr.contains(words), "\(conf): \(r.stderr)")
        }
    }
}
