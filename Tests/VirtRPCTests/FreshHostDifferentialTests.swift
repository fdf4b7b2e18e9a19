import Foundation
import Testing
import VirtTestSupport
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// A fresh host against libvirt 9.0 on the same machine: firmware descriptors present or not, and a QEMU user
/// that cannot open /dev/kvm; and a capability probe's QEMU that must not outlive its prober.
@Suite("fresh host: firmware descriptors, /dev/kvm access, probe QEMUs (virtd vs libvirtd 9.0)", .serialized,
       .tags(.qemu, .root, .referenceLibvirtd))
struct FreshHostDifferentialTests {
    static let securityConfig = CapabilitiesDifferentialTests.securityConfig

    /// Debian's ovmf package unpacked (never installed) by scripts/fetch-test-firmware.sh; its descriptors'
    /// image paths point into the unpacked tree.
    static func firmwareDescriptors() throws -> String {
        let dir = TestPaths.repoRoot + "/.build/test-firmware/descriptors"
        if (try? FileManager.default.contentsOfDirectory(atPath: dir))?.contains(where: { $0.hasSuffix(".json") }) != true {
            let r = try ChildProcess.run([TestPaths.repoRoot + "/scripts/fetch-test-firmware.sh"], timeLimit: 300)
            #expect(r.status == 0, "fetch-test-firmware.sh: \(r.stdout)\(r.stderr)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }
        try #require(!files.isEmpty, "no firmware descriptors in \(dir)")
        return dir
    }

    /// Shell commands for the reference daemon's namespace: QEMU's descriptor directories hold exactly the
    /// descriptors of `dir` (the host's own, if any, hidden). /usr/share/qemu/firmware may not exist, so a
    /// read-only overlay adds it to /usr/share/qemu first.
    static func descriptorMounts(_ dir: String, stub: String) throws -> String {
        try FileManager.default.createDirectory(atPath: stub + "/firmware", withIntermediateDirectories: true)
        return "mount -t overlay overlay -o 'lowerdir=\(stub):/usr/share/qemu' /usr/share/qemu && "
            + "mount -t tmpfs tmpfs /usr/share/qemu/firmware && "
            + "{ cp '\(dir)'/*.json /usr/share/qemu/firmware/ 2>/dev/null || true; } && "
            + "{ [ ! -d /etc/qemu/firmware ] || mount -t tmpfs tmpfs /etc/qemu/firmware; } && "
            // libvirtd's capabilities cache is the host's otherwise.
            + "mount -t tmpfs tmpfs /var/cache/libvirt && "
    }

    static func osSection(_ xml: String) -> String {
        guard let a = xml.range(of: "<os supported="), let b = xml.range(of: "</os>") else { return "" }
        return String(xml[a.lowerBound..<b.upperBound])
    }

    /// The `<os>` part of domcapabilities (firmware, loader images, secure) is libvirt's, line for line, with
    /// no descriptor installed and with Debian's OVMF descriptors.
    @Test("domcapabilities <os> (firmware, loader, secure) equals libvirt 9.0's with and without firmware descriptors",
          arguments: [false, true])
    func firmwareEnums(withDescriptors: Bool) throws {
        let tmp = try TestPaths.makeTempDir("fw", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let descriptors: String
        if withDescriptors {
            descriptors = try Self.firmwareDescriptors()
        } else {
            descriptors = tmp + "/none"
            try FileManager.default.createDirectory(atPath: descriptors, withIntermediateDirectories: true)
        }
        let ref = try ReferenceLibvirtd(namespaceSetup: try Self.descriptorMounts(descriptors, stub: tmp + "/stub"))
        defer { ref.stop() }
        let ours = try RestartableVirtd(config: Self.securityConfig + "firmware_dirs = [ \"\(descriptors)\" ]\n")
        defer { ours.cleanup() }
        let refURI = "qemu+unix:///system?socket=\(ref.socket)"
        for args in [[], ["--machine", "pc"], ["--machine", "q35"], ["--virttype", "qemu"], ["--arch", "i686"]] {
            let r = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, "domcapabilities"] + args)
            let o = try ours.virsh(args: ["domcapabilities"] + args)
            #expect(r.status == 0 && o.status == 0, "\(args): \(r.stderr) \(o.stderr)")
            let refOS = Self.osSection(r.stdout)
            #expect(!refOS.isEmpty)
            #expect(Self.osSection(o.stdout) == refOS, "domcapabilities \(args) <os>:\nlibvirt:\n\(refOS)\nours:\n\(Self.osSection(o.stdout))")
            // Whichever state: `secure` says no (it is never an empty enum).
            #expect(refOS.contains("<enum name='secure'>"), "\(refOS)")
            if withDescriptors && args == ["--machine", "q35"] {
                // The case that shows the descriptors are read: UEFI, Secure Boot, images under the unpacked tree.
                #expect(refOS.contains("<value>efi</value>") && refOS.contains("<value>yes</value>"), "\(refOS)")
                #expect(refOS.contains("<value>\(TestPaths.repoRoot)/.build/test-firmware/root/usr/share/OVMF/"),
                        "\(refOS)")
            }
            if !withDescriptors {
                #expect(refOS.contains("<enum name='firmware'/>"), "\(refOS)")
            }
        }
    }

    /// QEMU's user is a uid:gid outside group kvm. libvirt 9.0 still reports KVM (its probe runs with
    /// CAP_DAC_OVERRIDE): `<domain type='kvm'>` in capabilities, domcapabilities --virttype kvm works. So do we;
    /// but we refuse to start a KVM domain then, before QEMU runs, where libvirt lets QEMU fail.
    @Test("QEMU user outside group kvm: capabilities/domcapabilities report KVM as libvirt 9.0 does; start is refused with the fix")
    func qemuUserOutsideKVMGroup() throws {
        let tmp = try TestPaths.makeTempDir("nokvm", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let qemuConf = tmp + "/qemu.conf"
        try "user = \"+64999\"\ngroup = \"+64999\"\n".write(toFile: qemuConf, atomically: true, encoding: .utf8)
        let ref = try ReferenceLibvirtd(namespaceSetup: "mount --bind '\(qemuConf)' /etc/libvirt/qemu.conf && "
                                            + "mount -t tmpfs tmpfs /var/cache/libvirt && ")
        defer { ref.stop() }
        let ours = try RestartableVirtd(config: "user = \"+64999\"\ngroup = \"+64999\"\n")
        defer { ours.cleanup() }
        let refURI = "qemu+unix:///system?socket=\(ref.socket)"

        func guestDomains(_ xml: String) throws -> [String] {
            try CapabilitiesDifferentialTests.flatten(xml)
                .filter { $0.path.hasPrefix("capabilities/guest") && $0.path.hasSuffix("/domain") }.map(\.description)
        }
        let rc = CapabilitiesDifferentialTests.run(try virsh(refURI, "capabilities"), "libvirtd capabilities")
        let oc = CapabilitiesDifferentialTests.run(try ours.virsh("capabilities"), "virtd capabilities")
        #expect(try guestDomains(rc) == guestDomains(oc))
        #expect(rc.contains("<domain type='kvm'/>") == oc.contains("<domain type='kvm'/>"))
        #expect(try CapabilitiesDifferentialTests.flatten(oc).contains {
            $0.path.hasSuffix("secmodel[dac]/baselabel") && $0.text == "+64999:+64999"
        })

        for args in [["--virttype", "kvm"], []] {
            let r = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, "domcapabilities"] + args)
            let o = try ours.virsh(args: ["domcapabilities"] + args)
            #expect(r.status == o.status && r.stderr == o.stderr, "domcapabilities \(args): \(r.stderr) | \(o.stderr)")
            func domain(_ s: String) -> String? {
                guard let a = s.range(of: "<domain>"), let b = s.range(of: "</domain>") else { return nil }
                return String(s[a.upperBound..<b.lowerBound])
            }
            #expect(domain(r.stdout) == domain(o.stdout), "domcapabilities \(args)")
        }

        // The start, through virsh and virtd: refused before any QEMU runs.
        let xml = tmp + "/dom.xml"
        try """
            <domain type='kvm'><name>nokvm</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
            <os><type arch='x86_64' machine='pc'>hvm</type></os></domain>
            """.write(toFile: xml, atomically: true, encoding: .utf8)
        let created = try ours.virsh(args: ["create", xml])
        #expect(created.status == 1)
        #expect(created.stderr.contains("error: Requested operation is not valid: QEMU's user +64999 (uid 64999, gid 64999) cannot open /dev/kvm ("),
                "\(created.stderr)")
        #expect(created.stderr.contains("give /dev/kvm group kvm, mode 0660"), "\(created.stderr)")
        #expect(QEMUDaemonSupport.qemuProcesses(under: ours.dir).isEmpty)
        #expect(access(ours.dir + "/log/qemu/nokvm.log", F_OK) != 0)
    }

    /// /proc/PID/stat's state letter (nil: no such process).
    static func procState(_ pid: Int32) -> Character? {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = s.lastIndex(of: ")") else { return nil }
        return s[s.index(close, offsetBy: 2)...].first
    }

    static func parentPID(_ pid: Int32) -> Int32? {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = s.lastIndex(of: ")") else { return nil }
        let fields = s[s.index(close, offsetBy: 2)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// The capability probe's QEMU children of `pid` (`-machine none`).
    static func probeChildren(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { child in
            guard parentPID(child) == pid, procState(child) != "Z",
                  let cmd = FileManager.default.contents(atPath: "/proc/\(child)/cmdline") else { return false }
            let args = String(decoding: cmd, as: UTF8.self).split(separator: "\0").map(String.init)
            return args.first?.contains("qemu-system") == true && args.contains("none")
        }
    }

    /// vsh with an embedded QEMU driver on a fresh root probes QEMU; killed (SIGKILL) while a probe QEMU runs,
    /// that QEMU goes too (PR_SET_PDEATHSIG), where it used to stay, orphaned.
    @Test("a capability-probe QEMU dies with its killed prober (vsh with an embedded driver)")
    func probeQEMUDiesWithItsProber() throws {
        let root = try TestPaths.makeTempDir("probe", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let vsh = try ChildProcess.spawn([TestPaths.vsh, "-c", "qemu:///embed?root=\(root)", "capabilities"],
                                         output: .file(root + ".out"))
        defer {
            if vsh.isRunning { kill(vsh.pid, SIGKILL) }
            vsh.terminate()
            unlink(root + ".out")
        }
        var probe: Int32?
        _ = eventually(120) {
            probe = Self.probeChildren(of: vsh.pid).first
            return probe != nil || !vsh.isRunning
        }
        let qemu = try #require(probe, "no probe QEMU seen under vsh")
        // The prober stops where it is: the probe QEMU waits for commands and would run on by itself.
        kill(vsh.pid, SIGSTOP)
        #expect(Self.procState(qemu) != nil && Self.procState(qemu) != "Z", "the probe QEMU ended before the kill")
        kill(vsh.pid, SIGKILL)
        let gone = eventually(10) {
            let st = Self.procState(qemu)
            return st == nil || st == "Z"
        }
        if !gone { kill(qemu, SIGKILL) }
        #expect(gone, "the probe QEMU \(qemu) outlived its killed prober")
    }
}
