import Foundation
import Testing
import VirtTestSupport

/// Host information on the QEMU driver: libvirt 9.0's own QEMU driver (Debian's virsh on `qemu:///embed`) against
/// virtd (qemu:///system) through Debian's virsh and through vsh, on this machine. Every line must have the
/// same words; numbers that move between two reads (free memory, buffers, CPU times) may differ by 10%, the others
/// (CPU counts and map, memory totals, KSM tunables, model names, sysinfo, errors) must be equal.
@Suite("Host statistics on the QEMU driver: virtd vs libvirt 9.0", .tags(.qemu, .referenceLibvirtd))
struct HostStatsDifferentialTests {
    /// A command and whether its numbers may move between reads.
    struct Case: Sendable, CustomStringConvertible {
        var args: [String]
        var volatile: Bool
        var description: String { args.joined(separator: " ") }
    }

    static let cases: [Case] = [
        Case(args: ["nodecpumap"], volatile: false),
        Case(args: ["nodecpumap", "--pretty"], volatile: false),
        Case(args: ["nodecpustats"], volatile: true),
        Case(args: ["nodecpustats", "--cpu", "0"], volatile: true),
        Case(args: ["nodecpustats", "--cpu", "-1"], volatile: true),
        Case(args: ["nodecpustats", "--cpu", "4096"], volatile: false),
        Case(args: ["nodecpustats", "--cpu", "-2"], volatile: false),
        Case(args: ["nodememstats"], volatile: true),
        Case(args: ["nodememstats", "--cell", "0"], volatile: true),
        Case(args: ["nodememstats", "--cell", "4096"], volatile: false),
        Case(args: ["nodememstats", "--cell", "-2"], volatile: false),
        Case(args: ["freecell"], volatile: true),
        Case(args: ["freecell", "--all"], volatile: true),
        Case(args: ["freecell", "--cellno", "0"], volatile: true),
        Case(args: ["freecell", "--cellno", "4096"], volatile: false),
        Case(args: ["freecell", "--cellno", "-1"], volatile: false),
        Case(args: ["node-memory-tune"], volatile: true),
        Case(args: ["sysinfo"], volatile: false),
        Case(args: ["cpu-models", "x86_64"], volatile: false),
        Case(args: ["cpu-models", "ppc64le"], volatile: false),
        Case(args: ["cpu-models", "aarch64"], volatile: false),
        Case(args: ["cpu-models", "riscv64"], volatile: false),
        Case(args: ["cpu-models", "nosucharch"], volatile: false),
    ]

    /// Lines that must be equal word for word, except that numbers of a volatile command may differ by 10% of
    /// libvirt's (KSM's tunables are compared exactly: only the counters move).
    static func differences(_ ours: String, _ theirs: String, volatile: Bool) -> [String] {
        let a = ours.split(separator: "\n", omittingEmptySubsequences: false)
        let b = theirs.split(separator: "\n", omittingEmptySubsequences: false)
        guard a.count == b.count else { return ["\(a.count) lines vs libvirt's \(b.count)"] }
        var out: [String] = []
        for (la, lb) in zip(a, b) where la != lb {
            let wa = la.split(whereSeparator: \.isWhitespace)
            let wb = lb.split(whereSeparator: \.isWhitespace)
            let tunable = ["shm_pages_to_scan", "shm_sleep_millisecs", "shm_merge_across_nodes"]
                .contains { lb.contains($0) }
            guard volatile, !tunable, wa.count == wb.count else {
                out.append("'\(la)' vs libvirt's '\(lb)'")
                continue
            }
            for (x, y) in zip(wa, wb) where x != y {
                guard let dx = Double(x), let dy = Double(y), abs(dx - dy) <= max(dy * 0.1, 1) else {
                    out.append("'\(la)' vs libvirt's '\(lb)'")
                    break
                }
            }
        }
        return out
    }

    @Test("virsh and vsh through virtd print what libvirt's QEMU driver prints, moving numbers within 10%")
    func sameAsLibvirt() throws {
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        let root = try TestPaths.makeTempDir("hse", mode: 0o755)
        defer { TestPaths.removeDir(root) }
        let embed = "qemu:///embed?root=\(root)"
        for c in Self.cases {
            let theirs = try ChildProcess.run(["/usr/bin/virsh", "-c", embed] + c.args, timeLimit: 120)
            let viaVirsh = try daemon.virsh(args: c.args)
            let viaVsh = try daemon.virsh(args: c.args, client: TestPaths.vsh)
            for (who, ours) in [("virsh via virtd", viaVirsh), ("vsh via virtd", viaVsh)] {
                #expect(ours.status == theirs.status, "\(c) \(who): \(ours.stderr) vs libvirt's \(theirs.stderr)")
                #expect(ours.stderr == theirs.stderr, "\(c) \(who)")
                let diff = Self.differences(ours.stdout, theirs.stdout, volatile: c.volatile)
                #expect(diff.isEmpty, "\(c) \(who): \(diff)\nours:\n\(ours.stdout)\nlibvirt:\n\(theirs.stdout)")
            }
        }
    }

    /// python3-libvirt's getCPUMap (what `dom.vcpus()` sizes its maps with), getCPUStats, getMemoryStats,
    /// getMemoryParameters, getCellsFreeMemory and getCPUModelNames: the same keys and fixed values as libvirt's
    /// QEMU driver gives, and the same error codes and domains.
    @Test("python3-libvirt's host calls through virtd answer as libvirt's QEMU driver")
    func pythonAgreesWithLibvirt() throws {
        let daemon = try RestartableVirtd()
        defer { daemon.cleanup() }
        let root = try TestPaths.makeTempDir("hsp", mode: 0o755)
        defer { TestPaths.removeDir(root) }
        let script = """
            import sys, libvirt
            libvirt.virEventRegisterDefaultImpl()
            libvirt.registerErrorHandler(lambda *a: None, None)
            c = libvirt.open(sys.argv[1])
            print('cpumap', c.getCPUMap())
            print('cpustats', sorted(c.getCPUStats(-1).keys()), sorted(c.getCPUStats(0).keys()))
            m = c.getMemoryStats(-1)
            print('memstats', sorted(m.keys()), m['total'])
            m = c.getMemoryStats(0)
            print('cellstats', sorted(m.keys()), m['total'])
            p = c.getMemoryParameters()
            print('memparams', sorted(p.keys()), p['shm_pages_to_scan'], p['shm_sleep_millisecs'])
            print('cells', len(c.getCellsFreeMemory(0, 64)), c.getFreeMemory() > 0)
            print('models', c.getCPUModelNames('x86_64'), c.getCPUModelNames('s390x'))
            for f in (lambda: c.getCPUStats(4096), lambda: c.getMemoryStats(4096), lambda: c.getSysinfo(),
                      lambda: c.getCellsFreeMemory(4096, 1), lambda: c.getCPUModelNames('nosucharch')):
                try:
                    print('ok', f())
                except libvirt.libvirtError as e:
                    print('error', e.get_error_code(), e.get_error_domain(), e.get_error_message())
            """
        let theirs = try ChildProcess.run(["/usr/bin/python3", "-c", script, "qemu:///embed?root=\(root)"],
                                          timeLimit: 120)
        let ours = try ChildProcess.run(["/usr/bin/python3", "-c", script, daemon.uri], timeLimit: 120)
        #expect(theirs.status == 0, "\(theirs.stderr)")
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(ours.stdout == theirs.stdout, "ours:\n\(ours.stdout)\nlibvirt:\n\(theirs.stdout)")
        #expect(ours.stdout.contains("cpumap ("), "\(ours.stdout)")
    }

    /// dmidecode's output for a made-up host: text to escape, a base board and a processor with missing fields
    /// (libvirt then takes values from later sections), an OEM string with a dot (fetched again raw), an empty
    /// one, an empty memory slot.
    static let dmidecodeOutput = """
        BIOS Information
        \tVendor: SeaBIOS & <Co>
        \tVersion: rel-1.16.0-0-gd239552ce722-prebuilt.qemu.org
        \tRelease Date: 04/01/2014
        \tCharacteristics:
        \t\tBIOS characteristics not supported
        \tBIOS Revision: 0.0  \("")
        
        System Information
        \tManufacturer: QEMU
        \tProduct Name: Standard PC (i440FX + PIIX, 1996)
        \tVersion: pc-i440fx-7.2
        \tSerial Number: Not Specified
        \tUUID: 0bd0ab8a-8c6b-4b3a-9d0c-4c1a3f6b8e21
        \tSKU Number: Not Specified
        \tFamily: Not Specified
        
        Base Board Information
        \tManufacturer: Board Maker's
        \tProduct Name: B1
        \tVersion: 1.0
        \tLocation In Chassis: Slot 1
        
        Base Board Information
        \tManufacturer: Second
        
        Chassis Information
        \tManufacturer: QEMU
        \tType: Other
        \tVersion: pc-i440fx-7.2
        \tAsset Tag: Not Specified
        \tSKU Number: Not Specified
        
        Processor Information
        \tSocket Designation: CPU 0
        \tType: Central Processor
        \tFamily: Other
        \tManufacturer: QEMU
        \tSignature: Family 23, Model 1, Stepping 2
        \tVersion: pc-i440fx-7.2
        \tExternal Clock: Unknown
        \tMax Speed: 2000 MHz
        \tStatus: Populated, Enabled
        
        Processor Information
        \tSocket Designation: CPU 1
        \tStatus: Unpopulated
        
        OEM Strings
        \tString 1: hello world
        \tString 2: with.dot
        \tString 3: \("")
        \tString 4: last
        
        Memory Device
        \tSize: 1 GB
        \tForm Factor: DIMM
        \tLocator: DIMM 0
        \tBank Locator: Not Specified
        \tType: RAM
        \tSpeed: Unknown
        \tManufacturer: QEMU
        \tSerial Number: Not Specified
        \tPart Number: Not Specified
        
        Memory Device
        \tSize: No Module Installed
        \tLocator: DIMM 1

        """

    /// A dmidecode that prints `dmidecodeOutput`, and OEM string 2 raw for `--dump --oem-string 2`.
    static func fakeDMIDecode(in dir: String) throws -> String {
        try dmidecodeOutput.write(toFile: dir + "/dmi.txt", atomically: true, encoding: .utf8)
        let script = """
            #!/bin/sh
            if [ "$1" = "--dump" ]; then
              if [ "$3" = 2 ]; then printf 'with\\ndot\\n'; else echo "No OEM string number $3" >&2; fi
              exit 0
            fi
            cat '\(dir)/dmi.txt'

            """
        let path = dir + "/dmidecode"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    /// `argv` in a private mount namespace where the fake dmidecode is bound over the system's (libvirt runs
    /// /usr/sbin/dmidecode by its full path).
    static func withFakeDMIDecode(_ fake: String) -> [String] {
        ["/usr/bin/unshare", "-m", "/bin/sh", "-c", "mount --bind \"$0\" /usr/sbin/dmidecode && exec \"$@\"", fake]
    }

    @Test("sysinfo from dmidecode's output: virtd's XML equals libvirt's for the same output", .tags(.root))
    func sysinfoFromDMIDecode() throws {
        let tools = try TestPaths.makeTempDir("hsd", mode: 0o755)
        defer { TestPaths.removeDir(tools) }
        let fake = try Self.fakeDMIDecode(in: tools)
        let daemon = try RestartableVirtd(prefix: Self.withFakeDMIDecode(fake))
        defer { daemon.cleanup() }
        let root = try TestPaths.makeTempDir("hss", mode: 0o755)
        defer { TestPaths.removeDir(root) }
        let theirs = try ChildProcess.run(Self.withFakeDMIDecode(fake)
                                          + ["/usr/bin/virsh", "-c", "qemu:///embed?root=\(root)", "sysinfo"],
                                          timeLimit: 120)
        #expect(theirs.status == 0, "\(theirs.stderr)")
        #expect(theirs.stdout.contains("<oemStrings>"), "\(theirs.stdout)")
        for client in ["/usr/bin/virsh", TestPaths.vsh] {
            let ours = try daemon.virsh(args: ["sysinfo"], client: client)
            #expect(ours.status == 0, "\(client): \(ours.stderr)")
            #expect(ours.stdout == theirs.stdout, "\(client):\n\(ours.stdout)\nlibvirt:\n\(theirs.stdout)")
        }
    }
}
