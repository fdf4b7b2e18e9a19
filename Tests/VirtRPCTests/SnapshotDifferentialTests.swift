import Foundation
import Testing
import VirtTestSupport

/// Domain snapshots and checkpoints of the test driver (issue 13): the same virsh session and the same
/// python3-libvirt script through virtd's `test+unix:///default` and through Debian's libvirtd 9.0 serving its
/// own test driver, outputs compared byte for byte. Only creation times (and the names libvirt makes from them)
/// are masked; each run gets fresh daemons, since test:///default lives as long as its daemon.
@Suite("snapshots and checkpoints: virtd's test driver vs libvirtd 9.0", .serialized, .tags(.root, .referenceLibvirtd))
struct SnapshotDifferentialTests {
    static let session = """
        snapshot-create-as test s1 --description "hello <x>"; snapshot-create-as test s2; snapshot-list test; \
        snapshot-list test --tree; snapshot-info test s1; snapshot-info test --current; snapshot-dumpxml test s2; \
        snapshot-dumpxml test s2 --security-info; snapshot-current test --name; snapshot-current test; \
        snapshot-parent test s2; snapshot-parent test s1; suspend test; snapshot-create-as test s3; \
        snapshot-list test --parent; snapshot-revert test s1; domstate test --reason; domid test; \
        snapshot-revert test s3 --running; domstate test --reason; snapshot-revert test s3; domstate test --reason; \
        destroy test; snapshot-create test; snapshot-list test --roots; snapshot-list test --leaves; \
        snapshot-list test --no-leaves --name; snapshot-list test --inactive; snapshot-list test --active --name; \
        snapshot-list test --name --topological; snapshot-list test --from s1 --descendants --name; \
        snapshot-list test --current --name; snapshot-list test --tree; snapshot-revert test s1 --paused; \
        domstate test --reason; snapshot-revert test --current --running; domstate test --reason; \
        snapshot-create-as test h1 --halt; domstate test --reason; snapshot-info test h1; \
        snapshot-create-as test bad --no-metadata; snapshot-create-as test bad --disk-only; \
        snapshot-create-as test s1; snapshot-dumpxml test nope; snapshot-info test; \
        snapshot-delete test s2; snapshot-list test --parent; snapshot-delete test --current; \
        snapshot-delete test s1 --children-only; snapshot-list test; snapshot-delete test s1 --metadata; \
        undefine test; snapshot-delete test s1; snapshot-delete test nope; snapshot-current test; \
        list --all --with-snapshot; start test; checkpoint-create-as test c1; \
        checkpoint-create-as test c2 --description hi; checkpoint-list test; checkpoint-list test --parent; \
        checkpoint-list test --tree; checkpoint-dumpxml test c2; checkpoint-info test c2; checkpoint-info test c1; \
        checkpoint-parent test c2; checkpoint-parent test c1; checkpoint-create test; checkpoint-list test --roots; \
        checkpoint-list test --leaves --name; checkpoint-list test --from c1 --descendants --name; \
        checkpoint-dumpxml test --checkpointname c2 --no-domain --size; checkpoint-delete test c1; \
        checkpoint-list test --name; snapshot-create-as test zz; list --all --with-checkpoint; \
        checkpoint-delete test c2 --children; snapshot-list test --name; destroy test; checkpoint-create-as test c3; \
        help snapshot-create-as; help snapshot-list; help snapshot-info; help snapshot-dumpxml; help snapshot-current; \
        help snapshot-parent; help snapshot-revert; help snapshot-delete; help snapshot-create; \
        help checkpoint-create-as; help checkpoint-list; help checkpoint-dumpxml; help checkpoint-delete; \
        help checkpoint-create; help checkpoint-info; help checkpoint-parent
        """

    /// Trees, --from, setting the current snapshot, redefinition from a file, and virsh's option checks.
    static let session2 = """
        snapshot-create-as test a; snapshot-create-as test b; snapshot-create-as test c; snapshot-current test a; \
        snapshot-create-as test d; snapshot-list test --tree --from a; snapshot-list test --tree; \
        snapshot-list test --from a --tree --name; snapshot-list test --parent --name; \
        snapshot-current test --snapshotname b; snapshot-current test --name; \
        snapshot-create test @DIR@/red.xml --redefine; snapshot-create test @DIR@/red.xml --redefine --current; \
        snapshot-current test --name; snapshot-list test --roots --name; snapshot-list test --descendants; \
        snapshot-list test --roots --from a; snapshot-revert test; snapshot-revert test --current --force; \
        snapshot-delete test; snapshot-info test --snapshotname a --current; snapshot-list test --leaves --no-leaves; \
        snapshot-list test --metadata --name; snapshot-list test --no-metadata; snapshot-list test --internal --name; \
        snapshot-list test --external; snapshot-list test --disk-only; snapshot-list test --from a --descendants --tree; \
        snapshot-delete test a --children; snapshot-list test --name; snapshot-list test --parent --tree; \
        snapshot-list test --roots --tree; snapshot-list test --parent --roots; snapshot-list test --roots --from x; \
        snapshot-list test --roots --current; snapshot-list test --from x --current; start test; \
        checkpoint-create-as test c1; checkpoint-create-as test c2; checkpoint-create-as test c3; \
        checkpoint-list test --tree --from c1; checkpoint-list test --parent --tree; checkpoint-list test --roots --tree; \
        checkpoint-list test --parent --roots; checkpoint-list test --tree --name; checkpoint-list test --roots --from x; \
        checkpoint-list test --descendants; checkpoint-list test --leaves --no-leaves; \
        checkpoint-list test --from c1 --descendants --tree; checkpoint-list test --topological --name
        """

    /// A snapshot of `test` as libvirt's dumpxml writes it, renamed: input for --redefine.
    static let redefineXML = """
        <domainsnapshot>
          <name>r1</name>
          <state>running</state>
          <creationTime>1700000000</creationTime>
          <memory snapshot='internal'/>
          <disks>
            <disk name='vda' snapshot='internal'/>
          </disks>
          <domain type='test'>
            <name>test</name>
            <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
            <memory unit='KiB'>8388608</memory>
            <currentMemory unit='KiB'>2097152</currentMemory>
            <vcpu placement='static'>2</vcpu>
            <os>
              <type arch='i686'>hvm</type>
              <boot dev='hd'/>
            </os>
            <clock offset='utc'/>
            <on_poweroff>destroy</on_poweroff>
            <on_reboot>restart</on_reboot>
            <on_crash>destroy</on_crash>
            <devices>
              <disk type='file' device='disk'>
                <source file='/guest/diskimage1'/>
                <target dev='vda' bus='virtio'/>
                <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
              </disk>
              <interface type='network'>
                <mac address='aa:bb:cc:dd:ee:ff'/>
                <source network='default'/>
                <target dev='testnet0'/>
                <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
              </interface>
              <memballoon model='virtio'>
                <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
              </memballoon>
            </devices>
          </domain>
        </domainsnapshot>
        """

    /// Creation times: the seconds in XML and names, the local time in tables.
    static func masked(_ s: String) -> String {
        s.replacingOccurrences(of: #"[0-9]{10}"#, with: "TIME", options: .regularExpression)
            .replacingOccurrences(of: #"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} \+0000"#, with: "DATE",
                                  options: .regularExpression)
    }

    static var utc: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["TZ"] = "UTC"
        return env
    }

    @Test("virsh and vsh through virtd print what virsh prints through libvirtd")
    func virshSession() throws {
        let reference = try ReferenceLibvirtd()
        defer { reference.stop() }
        let r = try ChildProcess.run(["/usr/bin/virsh", "-c", reference.testURI, Self.session],
                                     environment: Self.utc, timeLimit: 120)
        #expect(r.stdout.contains("Domain snapshot s1 reverted"), "\(r.stdout)\n\(r.stderr)")
        for client in ["/usr/bin/virsh", TestPaths.vsh] {
            let ours = try VirtdProcess()
            defer { ours.stop() }
            let o = try ChildProcess.run([client, "-c", ours.testURI, Self.session], environment: Self.utc,
                                         timeLimit: 120)
            #expect(Self.masked(o.stdout) == Self.masked(r.stdout),
                    "\(client):\n\(o.stdout)\n--- libvirtd:\n\(r.stdout)")
            #expect(o.stderr == r.stderr, "\(client):\n\(o.stderr)\n--- libvirtd:\n\(r.stderr)")
            #expect(o.status == r.status)
        }
    }

    @Test("trees, --from, current and redefinition: virsh and vsh through virtd as virsh through libvirtd")
    func virshSession2() throws {
        let dir = try TestPaths.makeTempDir("snap", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try (Self.redefineXML + "\n").write(toFile: dir + "/red.xml", atomically: true, encoding: .utf8)
        let session = Self.session2.replacingOccurrences(of: "@DIR@", with: dir)
        let reference = try ReferenceLibvirtd()
        defer { reference.stop() }
        let r = try ChildProcess.run(["/usr/bin/virsh", "-c", reference.testURI, session],
                                     environment: Self.utc, timeLimit: 120)
        #expect(r.stdout.contains("Domain snapshot r1 created from"), "\(r.stdout)\n\(r.stderr)")
        for client in ["/usr/bin/virsh", TestPaths.vsh] {
            let ours = try VirtdProcess()
            defer { ours.stop() }
            let o = try ChildProcess.run([client, "-c", ours.testURI, session], environment: Self.utc,
                                         timeLimit: 120)
            #expect(Self.masked(o.stdout) == Self.masked(r.stdout),
                    "\(client):\n\(o.stdout)\n--- libvirtd:\n\(r.stdout)")
            #expect(o.stderr == r.stderr, "\(client):\n\(o.stderr)\n--- libvirtd:\n\(r.stderr)")
        }
    }

    @Test("python3-libvirt: libvirt-python's snapshot and checkpoint tests and a longer sequence with events")
    func pythonSession() throws {
        let script = TestPaths.repoRoot + "/Tests/VirtRPCTests/Resources/snapshot_session.py"
        let reference = try ReferenceLibvirtd()
        defer { reference.stop() }
        let r = try ChildProcess.run(["/usr/bin/python3", script, reference.testURI], timeLimit: 120)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("events: ['test 1 3 0'"), "\(r.stdout)")
        let ours = try VirtdProcess()
        defer { ours.stop() }
        let o = try ChildProcess.run(["/usr/bin/python3", script, ours.testURI], timeLimit: 120)
        #expect(o.status == 0, "\(o.stderr)")
        let ol = o.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let rl = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(ol.count == rl.count)
        for (a, b) in zip(ol, rl) where a != b {
            Issue.record("virtd: \(a)\nlibvirtd: \(b)")
        }
    }
}
