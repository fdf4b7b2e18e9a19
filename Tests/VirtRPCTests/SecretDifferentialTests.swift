import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The secret driver (`secret-*`, virSecret*) through virtd's `qemu:///system`, against libvirtd 9.0's on the
/// same commands: Debian's virsh and python3-libvirt on both daemons, outputs compared byte for byte; vsh
/// against virtd compared with virsh against libvirtd.
@Suite("secrets: virtd vs libvirtd 9.0", .serialized, .tags(.root, .referenceLibvirtd))
struct SecretDifferentialTests {
    /// libvirtd keeps secrets in /etc/libvirt/secrets: a tmpfs over it in the reference's mount namespace.
    static func reference() throws -> ReferenceLibvirtd {
        try ReferenceLibvirtd(namespaceSetup: "mkdir -p /etc/libvirt/secrets && mount -t tmpfs tmpfs /etc/libvirt/secrets &&")
    }

    static let volumeUUID = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f"
    static let plainUUID = "11111111-2222-3333-4444-555555555555"
    static let cephUUID = "b84e4007-c9ea-45d0-9d5b-e0c932c29006"

    /// The input files, in `dir`.
    static func writeInputs(_ dir: String) throws {
        let files: [String: String] = [
            "vol.xml": """
                <secret ephemeral='no' private='yes'>
                  <description>LUKS passphrase for vol1</description>
                  <uuid>\(volumeUUID)</uuid>
                  <usage type='volume'>
                     <volume>/var/lib/libvirt/images/vol1.img</volume>
                  </usage>
                </secret>
                """,
            "ceph.xml": "<secret ephemeral='yes' private='no'><uuid>\(cephUUID)</uuid><usage type='ceph'><name>client.admin secret</name></usage></secret>",
            "plain.xml": "<secret><uuid>\(plainUUID)</uuid></secret>",
            "tls.xml": "<secret><uuid>22222222-2222-3333-4444-555555555555</uuid><usage type='tls'><name>t1</name></usage><description>a &amp; b &lt;c&gt; 'q' \"d\"</description></secret>",
            "vtpm.xml": "<secret><uuid>33333333-2222-3333-4444-555555555555</uuid><usage type='vtpm'><name>VTPM_example</name></usage></secret>",
            "iscsi.xml": "<secret><uuid>44444444-2222-3333-4444-555555555555</uuid><usage type='iscsi'><target>libvirtiscsi</target></usage></secret>",
            "dup.xml": "<secret><usage type='volume'><volume>/var/lib/libvirt/images/vol1.img</volume></usage></secret>",
            "unprivate.xml": "<secret private='no'><uuid>\(volumeUUID)</uuid><usage type='volume'><volume>/var/lib/libvirt/images/vol1.img</volume></usage></secret>",
            "move.xml": "<secret private='yes'><uuid>\(volumeUUID)</uuid><usage type='volume'><volume>/other</volume></usage></secret>",
            "badusage.xml": "<secret><usage type='bogus'/></secret>",
            "novolume.xml": "<secret><usage type='volume'/></secret>",
            "noname.xml": "<secret><usage type='ceph'/></secret>",
            "badtype.xml": "<secret><usage/></secret>",
            "baduuid.xml": "<secret>\n<uuid>x</uuid></secret>",
            "malformed.xml": "<secret>\n  <usage>\n</secret>",
            "root.xml": "<notsecret/>",
            "ephemeral.xml": "<secret ephemeral='maybe'/>",
            "private.xml": "<secret private='1'/>",
            "value.bin": "abc\u{1}def",
            "value.b64": "YWJjAWRlZg==\n",
        ]
        for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
    }

    /// virsh command lines run in order on both daemons.
    static func script(_ dir: String) -> [[String]] {
        let f = { (name: String) in dir + "/" + name }
        return [
            ["secret-list"],
            ["secret-define", f("vol.xml")], ["secret-define", "--file", f("ceph.xml")], ["secret-define", f("plain.xml")],
            ["secret-define", f("tls.xml")], ["secret-define", f("vtpm.xml")], ["secret-define", f("iscsi.xml")],
            ["secret-list"], ["secret-list", "--ephemeral"], ["secret-list", "--no-ephemeral"], ["secret-list", "--private"],
            ["secret-list", "--no-private"], ["secret-list", "--private", "--no-private", "--ephemeral"],
            ["secret-dumpxml", volumeUUID], ["secret-dumpxml", "--secret", "22222222-2222-3333-4444-555555555555"],
            ["secret-dumpxml", cephUUID], ["secret-dumpxml", plainUUID],
            ["secret-get-value", volumeUUID], ["secret-get-value", plainUUID],
            ["secret-set-value", volumeUUID, "c2VjcmV0"], ["secret-get-value", volumeUUID],
            ["secret-set-value", "--secret", plainUUID, "--base64", "c2VjcmV0"], ["secret-get-value", plainUUID],
            ["secret-get-value", "--plain", plainUUID],
            ["secret-set-value", plainUUID, "--file", f("value.bin"), "--plain"], ["secret-get-value", plainUUID],
            ["secret-set-value", plainUUID, "--file", f("value.b64")], ["secret-get-value", plainUUID],
            ["secret-set-value", plainUUID, "not base64!"], ["secret-get-value", plainUUID],
            ["secret-set-value", plainUUID, "abc"], ["secret-set-value", plainUUID],
            ["secret-set-value", plainUUID, "--file", f("value.b64"), "--base64", "eA=="],
            ["secret-set-value", cephUUID, "ZXBoZW1lcmFs"], ["secret-get-value", cephUUID],
            // Redefinition keeps the value; the refusals.
            ["secret-define", f("plain.xml")], ["secret-get-value", plainUUID],
            ["secret-define", f("dup.xml")], ["secret-define", f("unprivate.xml")], ["secret-define", f("move.xml")],
            ["secret-define", f("badusage.xml")], ["secret-define", f("novolume.xml")], ["secret-define", f("noname.xml")],
            ["secret-define", f("badtype.xml")], ["secret-define", f("baduuid.xml")], ["secret-define", f("malformed.xml")],
            ["secret-define", f("root.xml")], ["secret-define", f("ephemeral.xml")], ["secret-define", f("private.xml")],
            ["secret-define", f("absent.xml")],
            ["secret-undefine", plainUUID], ["secret-get-value", plainUUID], ["secret-undefine", plainUUID],
            ["secret-dumpxml", "99999999-2222-3333-4444-555555555555"], ["secret-undefine", "nosuch"],
            ["secret-get-value"], ["secret-list"],
            ["secret-event", "--list"], ["secret-event", "--timeout", "1"], ["secret-event", "--event", "bogus"],
        ]
    }

    static func both(_ ref: ReferenceLibvirtd, _ ours: RestartableVirtd, _ args: [String], client: String = "/usr/bin/virsh",
                     uriOurs: String? = nil, uriRef: String? = nil) throws -> (ChildProcess.Result, ChildProcess.Result) {
        let r = try ChildProcess.run(["/usr/bin/virsh", "-c", uriRef ?? "qemu+unix:///system?socket=\(ref.socket)"] + args,
                                     timeLimit: 60)
        let o = try ChildProcess.run([client, "-c", uriOurs ?? ours.uri] + args, timeLimit: 60)
        return (r, o)
    }

    @Test("virsh secret-* on both daemons: identical output, errors and exit status; then vsh on virtd")
    func virshScript() throws {
        let dir = try TestPaths.makeTempDir("secrets", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeInputs(dir)
        for client in ["/usr/bin/virsh", TestPaths.vsh] {
            let ref = try Self.reference()
            defer { ref.stop() }
            let ours = try RestartableVirtd()
            defer { ours.cleanup() }
            for args in Self.script(dir) {
                let (r, o) = try Self.both(ref, ours, args, client: client)
                #expect(o.stdout == r.stdout, "\(client) \(args): stdout\n\(o.stdout)\n--- libvirtd:\n\(r.stdout)")
                #expect(o.stderr == r.stderr, "\(client) \(args): stderr\n\(o.stderr)\n--- libvirtd:\n\(r.stderr)")
                #expect(o.status == r.status, "\(client) \(args): status \(o.status) vs \(r.status)")
            }
        }
    }

    @Test("test:///default has no secret driver on either daemon; the read-only socket refuses values, not listing")
    func noDriverAndReadOnly() throws {
        let dir = try TestPaths.makeTempDir("secrets", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeInputs(dir)
        let ref = try Self.reference()
        defer { ref.stop() }
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        for args in [["secret-list"], ["secret-list", "--ephemeral"], ["secret-define", dir + "/plain.xml"],
                     ["secret-dumpxml", Self.plainUUID]] {
            let (r, o) = try Self.both(ref, ours, args, uriOurs: "test+unix:///default?socket=\(ours.socket)",
                                       uriRef: "test+unix:///default?socket=\(ref.socket)")
            #expect(o.stdout == r.stdout && o.stderr == r.stderr && o.status == r.status,
                    "test driver \(args): \(o.stderr) vs \(r.stderr)")
        }
        for (r, o) in [try Self.both(ref, ours, ["secret-define", dir + "/plain.xml"]),
                       try Self.both(ref, ours, ["secret-set-value", Self.plainUUID, "c2VjcmV0"])] {
            #expect(r.status == 0 && o.status == 0, "\(o.stderr) \(r.stderr)")
        }
        let roOurs = "qemu+unix:///system?socket=\(ours.dir)/run/virtd-sock-ro"
        let roRef = "qemu+unix:///system?socket=\(ref.readOnlySocket)"
        for args in [["secret-list"], ["secret-dumpxml", Self.plainUUID], ["secret-get-value", Self.plainUUID],
                     ["secret-set-value", Self.plainUUID, "eA=="], ["secret-undefine", Self.plainUUID],
                     ["secret-define", dir + "/tls.xml"]] {
            let (r, o) = try Self.both(ref, ours, args, uriOurs: roOurs, uriRef: roRef)
            #expect(o.stdout == r.stdout && o.stderr == r.stderr && o.status == r.status,
                    "read-only \(args): \(o.stdout) \(o.stderr) vs \(r.stdout) \(r.stderr)")
        }
    }

    @Test("python3-libvirt: lookups by usage, listing, values and the secret events are libvirtd's")
    func pythonAndEvents() throws {
        let dir = try TestPaths.makeTempDir("secrets", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeInputs(dir)
        let script = dir + "/secrets.py"
        try #"""
        import libvirt, sys, threading, time
        uri, d = sys.argv[1:3]
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()
        watch = libvirt.open(uri)
        events = []
        def life(conn, sec, event, detail, opaque): events.append("lifecycle %s %d %d" % (sec.UUIDString(), event, detail))
        def value(conn, sec, opaque): events.append("value %s %s %d" % (sec.UUIDString(), sec.usageID(), sec.usageType()))
        ids = [watch.secretEventRegisterAny(None, libvirt.VIR_SECRET_EVENT_ID_LIFECYCLE, life, None),
               watch.secretEventRegisterAny(None, libvirt.VIR_SECRET_EVENT_ID_VALUE_CHANGED, value, None)]
        c = libvirt.open(uri)
        out = []
        for f in ["vol.xml", "ceph.xml", "plain.xml", "tls.xml"]:
            s = c.secretDefineXML(open(d + "/" + f).read())
        out.append("num %d" % c.numOfSecrets())
        out.append("list %s" % sorted(c.listSecrets()))
        out.append("all %s" % sorted((s.UUIDString(), s.usageType(), s.usageID()) for s in c.listAllSecrets()))
        for flags in [libvirt.VIR_CONNECT_LIST_SECRETS_EPHEMERAL, libvirt.VIR_CONNECT_LIST_SECRETS_NO_PRIVATE]:
            out.append("flags %d %s" % (flags, sorted(s.UUIDString() for s in c.listAllSecrets(flags))))
        s = c.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, "client.admin secret")
        out.append("usage %s %d %s" % (s.UUIDString(), s.usageType(), s.usageID()))
        for t, u in [(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, "nope"), (libvirt.VIR_SECRET_USAGE_TYPE_NONE, "")]:
            try:
                c.secretLookupByUsage(t, u)
            except libvirt.libvirtError as e:
                out.append("error %d %d %s" % (e.get_error_code(), e.get_error_domain(), e.get_error_message()))
        p = c.secretLookupByUUIDString("11111111-2222-3333-4444-555555555555")
        p.setValue(b"\x00\x01binary\xff")
        out.append("value %r" % p.value())
        v = c.secretLookupByUUIDString("0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f")
        v.setValue(b"hidden")
        try:
            v.value()
        except libvirt.libvirtError as e:
            out.append("error %d %d %s" % (e.get_error_code(), e.get_error_domain(), e.get_error_message()))
        try:
            c.secretDefineXML("<secret><usage type='volume'/></secret>", 8)
        except libvirt.libvirtError as e:
            out.append("error %d %d %s" % (e.get_error_code(), e.get_error_domain(), e.get_error_message()))
        p.undefine()
        try:
            p.value()
        except libvirt.libvirtError as e:
            out.append("error %d %d %s" % (e.get_error_code(), e.get_error_domain(), e.get_error_message()))
        end = time.time() + 20
        while len(events) < 7 and time.time() < end:
            time.sleep(0.05)
        for i in ids:
            watch.secretEventDeregisterAny(i)
        print("\n".join(out + events))
        """#.write(toFile: script, atomically: true, encoding: .utf8)
        let ref = try Self.reference()
        defer { ref.stop() }
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        let r = try ChildProcess.run(["/usr/bin/python3", script, "qemu+unix:///system?socket=\(ref.socket)", dir],
                                     timeLimit: 60)
        let o = try ChildProcess.run(["/usr/bin/python3", script, ours.uri, dir], timeLimit: 60)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(o.status == 0, "\(o.stderr)")
        #expect(o.stdout == r.stdout, "virtd:\n\(o.stdout)\n--- libvirtd:\n\(r.stdout)")
        #expect(r.stdout.contains("lifecycle 11111111-2222-3333-4444-555555555555 1 0"), "\(r.stdout)")
    }

    @Test("at rest: definitions and values 0600 in a 0700 directory, ephemeral ones nowhere; kept across a kill -9")
    func atRestAndRestart() throws {
        let dir = try TestPaths.makeTempDir("secrets", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeInputs(dir)
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        for f in ["vol.xml", "ceph.xml", "plain.xml"] {
            #expect(try ours.virsh(args: ["secret-define", dir + "/" + f]).status == 0)
        }
        for u in [Self.volumeUUID, Self.plainUUID, Self.cephUUID] {
            #expect(try ours.virsh(args: ["secret-set-value", u, "c2VjcmV0"]).status == 0)
        }
        let store = ours.dir + "/etc/secrets"
        func mode(_ path: String) -> mode_t? {
            var st = stat()
            return stat(path, &st) == 0 ? st.st_mode & 0o7777 : nil
        }
        #expect(mode(store) == 0o700)
        for u in [Self.volumeUUID, Self.plainUUID] {
            #expect(mode(store + "/\(u).xml") == 0o600)
            #expect(mode(store + "/\(u).base64") == 0o600)
        }
        #expect((try? String(contentsOfFile: store + "/\(Self.plainUUID).base64", encoding: .utf8)) == "c2VjcmV0")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: store)) ?? []
        #expect(!files.contains { $0.hasPrefix(Self.cephUUID) }, "\(files)")
        #expect(!files.contains { $0.hasSuffix(".new") }, "\(files)")

        ours.kill9()
        try ours.start()
        let list = try ours.virsh("secret-list")
        #expect(list.stdout.contains(Self.volumeUUID) && list.stdout.contains(Self.plainUUID), "\(list.stdout)")
        #expect(!list.stdout.contains(Self.cephUUID), "\(list.stdout)")
        #expect(try ours.virsh("secret-get-value \(Self.plainUUID)").stdout == "c2VjcmV0\n")
        #expect(try ours.virsh("secret-get-value \(Self.volumeUUID)").stderr.contains("secret is private"))
        #expect(try ours.virsh("secret-undefine \(Self.plainUUID)").status == 0)
        let after = (try? FileManager.default.contentsOfDirectory(atPath: store)) ?? []
        #expect(!after.contains { $0.hasPrefix(Self.plainUUID) }, "\(after)")

        // A definition whose file name does not match its UUID is skipped and logged, as libvirtd does.
        try "<secret><uuid>55555555-2222-3333-4444-555555555555</uuid></secret>"
            .write(toFile: store + "/66666666-2222-3333-4444-555555555555.xml", atomically: true, encoding: .utf8)
        ours.kill9()
        try ours.start()
        #expect(!(try ours.virsh("secret-list").stdout.contains("55555555")))
        let out = (try? String(contentsOfFile: ours.dir + "/virtd.out", encoding: .utf8)) ?? ""
        #expect(out.contains("Error reading secret: 66666666-2222-3333-4444-555555555555.xml: <uuid> does not match"), "\(out)")
    }

    @Test("secret-event --loop: vsh on virtd prints what virsh prints on libvirtd")
    func eventCommand() throws {
        let dir = try TestPaths.makeTempDir("secrets", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeInputs(dir)
        let marker = "77777777-2222-3333-4444-555555555555"
        try "<secret><uuid>\(marker)</uuid></secret>".write(toFile: dir + "/marker.xml", atomically: true, encoding: .utf8)
        let ref = try Self.reference()
        defer { ref.stop() }
        let ours = try RestartableVirtd()
        defer { ours.cleanup() }
        var outputs: [String] = []
        for (client, uri) in [("/usr/bin/virsh", "qemu+unix:///system?socket=\(ref.socket)"), (TestPaths.vsh, ours.uri)] {
            let out = dir + "/events-\(outputs.count).txt"
            let watcher = try ChildProcess.spawn([client, "-c", uri, "secret-event", "--event", "lifecycle", "--loop",
                                                  "--timestamp", "--timeout", "60"], output: .file(out))
            defer { watcher.terminate() }
            func text() -> String { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
            // Registered once a marker secret's definition shows up.
            #expect(eventually(30) {
                _ = try? ChildProcess.run(["/usr/bin/virsh", "-c", uri, "secret-define", dir + "/marker.xml"])
                return text().contains(marker)
            })
            for args in [["secret-define", dir + "/plain.xml"], ["secret-set-value", Self.plainUUID, "eA=="],
                         ["secret-undefine", Self.plainUUID]] {
                #expect(try ChildProcess.run(["/usr/bin/virsh", "-c", uri] + args).status == 0)
            }
            #expect(eventually(30) { text().contains("secret \(Self.plainUUID): Undefined") }, "\(text())")
            kill(watcher.pid, SIGINT)
            #expect(eventually(30) { !watcher.isRunning })
            outputs.append(text())
        }
        // Timestamps differ; the lines after them do not (the marker's definitions may be counted differently).
        func lines(_ t: String) -> [String] {
            t.split(separator: "\n").map { l in
                guard let r = l.range(of: ": event ") else { return String(l) }
                return "event " + l[r.upperBound...]
            }.filter { !$0.contains(marker) && !$0.hasPrefix("events received") }
        }
        #expect(lines(outputs[1]) == lines(outputs[0]), "vsh:\n\(outputs[1])\n--- virsh on libvirtd:\n\(outputs[0])")
        #expect(lines(outputs[0]) == ["event 'lifecycle' for secret \(Self.plainUUID): Defined",
                                      "event 'lifecycle' for secret \(Self.plainUUID): Undefined", "event loop interrupted"],
                "\(outputs[0])")
    }
}
