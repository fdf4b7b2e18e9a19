import Foundation
import Testing
import VirtTestSupport

/// `virsh cpu-compare`, `cpu-baseline`, `hypervisor-cpu-compare` and `hypervisor-cpu-baseline` (Debian's virsh)
/// against the reference libvirtd 9.0 and against virtd's QEMU driver, on the same input files: the host CPU of
/// libvirtd's capabilities, the host-model of its domcapabilities, named models with extra and disabled
/// features, two CPUs for a baseline, incompatible CPUs and bad inputs. Standard output, standard error and exit
/// status must be the same; the cases whose answer depends on how libvirt's CPU map and QEMU's definitions of a
/// model differ are listed with the difference, and there only the shape of the answer must agree. vsh through
/// virtd must print what virsh prints through virtd.
@Suite("CPU compare/baseline: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .kvm, .root, .referenceLibvirtd))
struct CPUCompareDifferentialTests {
    /// A case: a name, the virsh arguments (`FILE` stands for the input file), the input file's content.
    struct Case {
        var name: String
        var args: [String]
        var input: String? = nil
        /// Why libvirt's answer differs, when it depends on model definitions QEMU and libvirt's CPU map do not
        /// share.
        var knownDifference: String? = nil
    }

    static func hostCPU(_ model: String, vendor: String? = nil, features: [String] = []) -> String {
        "<cpu><arch>x86_64</arch><model>\(model)</model>" + (vendor.map { "<vendor>\($0)</vendor>" } ?? "")
            + features.map { "<feature name='\($0)'/>" }.joined() + "</cpu>\n"
    }

    static func guestCPU(_ model: String, match: String? = nil, vendor: String? = nil,
                         features: [(String, String)] = []) -> String {
        "<cpu" + (match.map { " match='\($0)'" } ?? "") + "><model>\(model)</model>"
            + (vendor.map { "<vendor>\($0)</vendor>" } ?? "")
            + features.map { "<feature policy='\($0.0)' name='\($0.1)'/>" }.joined() + "</cpu>\n"
    }

    static func cases(caps: String, domcaps: String, ourCaps: String) -> [Case] {
        let haswell = guestCPU("Haswell-noTSX", features: [("require", "avx512f"), ("disable", "fma")])
        let skylake = guestCPU("Skylake-Client")
        let epyc = guestCPU("EPYC", vendor: "AMD", features: [("require", "avx2"), ("disable", "sha-ni")])
        let kvm64 = guestCPU("kvm64", features: [("require", "vme")])
        let twoHost = hostCPU("Skylake-Client") + hostCPU("EPYC")
        let twoGuest = skylake + guestCPU("EPYC")
        let sameFamily = hostCPU("Skylake-Client") + hostCPU("Haswell-noTSX")
        let bothVendors = hostCPU("Haswell-noTSX", vendor: "Intel", features: ["avx512f"])
            + hostCPU("EPYC", vendor: "AMD", features: ["avx512f"])
        let domain = "<domain type='kvm'><name>d</name><memory>131072</memory><os><type>hvm</type></os>" + kvm64
            + "</domain>\n"
        let xmlDecl = "<?xml version=\"1.0\"?>\n" + guestCPU("qemu64")
        let both = ["cpu-compare", "hypervisor-cpu-compare"]
        let haswellDiff = "QEMU 7.2's model and libvirt 9.0's CPU map define the model with different features "
            + "(QEMU's Haswell-noTSX has abm, arat, f16c, rdrand, xsaveopt)"
        var c: [Case] = []
        for cmd in both {
            for err in [[], ["--error"]] {
                c += [
                    Case(name: "\(cmd) \(err) capabilities", args: [cmd] + err + ["FILE"], input: caps),
                    Case(name: "\(cmd) \(err) virtd's capabilities", args: [cmd] + err + ["FILE"], input: ourCaps),
                    Case(name: "\(cmd) \(err) domcapabilities", args: [cmd] + err + ["FILE"], input: domcaps),
                    Case(name: "\(cmd) \(err) Haswell-noTSX +avx512f -fma", args: [cmd] + err + ["FILE"], input: haswell,
                         knownDifference: cmd == "hypervisor-cpu-compare" && !err.isEmpty ? haswellDiff : nil),
                    Case(name: "\(cmd) \(err) kvm64 in a domain XML", args: [cmd] + err + ["FILE"], input: domain),
                    Case(name: "\(cmd) \(err) strict kvm64", args: [cmd] + err + ["FILE"],
                         input: guestCPU("kvm64", match: "strict")),
                    Case(name: "\(cmd) \(err) forbidden features", args: [cmd] + err + ["FILE"],
                         input: guestCPU("kvm64", features: [("forbid", "avx2"), ("forbid", "vme"), ("optional", "svm")])),
                    Case(name: "\(cmd) \(err) Intel vendor", args: [cmd] + err + ["FILE"],
                         input: guestCPU("Haswell-noTSX", vendor: "Intel")),
                    Case(name: "\(cmd) \(err) ppc64 arch", args: [cmd] + err + ["FILE"],
                         input: "<cpu><arch>ppc64</arch><model>kvm64</model></cpu>"),
                    Case(name: "\(cmd) \(err) host-passthrough", args: [cmd] + err + ["FILE"],
                         input: "<cpu mode='host-passthrough'/>"),
                ]
            }
            c += [
                Case(name: "\(cmd) unknown model", args: [cmd, "FILE"], input: guestCPU("Foo")),
                Case(name: "\(cmd) unknown feature", args: [cmd, "FILE"],
                     input: "<cpu><model>kvm64</model><feature name='foobar'/></cpu>"),
                Case(name: "\(cmd) features without a model", args: [cmd, "FILE"],
                     input: "<cpu><feature name='sse2'/></cpu>"),
                Case(name: "\(cmd) no cpu element", args: [cmd, "FILE"], input: "<domain/>"),
                Case(name: "\(cmd) empty file", args: [cmd, "FILE"], input: ""),
                Case(name: "\(cmd) malformed XML", args: [cmd, "FILE"], input: "<cpu><model>kvm64</cpu>"),
                Case(name: "\(cmd) missing file", args: [cmd, "/nonexistent/cpu.xml"], input: nil),
                Case(name: "\(cmd) XML declaration", args: [cmd, "FILE"], input: xmlDecl),
                Case(name: "\(cmd) --error qemu64", args: [cmd, "--error", "FILE"], input: guestCPU("qemu64")),
                Case(name: "\(cmd) --error kvm64 +vme", args: [cmd, "--error", "FILE"], input: kvm64),
            ]
        }
        // --validate: valid documents and the schema errors libvirt reports for invalid ones.
        let validateInputs = [
            "<cpu><model>kvm64</model></cpu>",
            "<cpu><arch>x86_64</arch><model>kvm64</model><feature name='vme'/></cpu>",
            "<cpu><model>kvm64</model><bogus/></cpu>",
            "<cpu><arch>x86_64</arch><model>kvm64</model><bogus/></cpu>",
            "<cpu foo='bar'><model>kvm64</model></cpu>",
            "<cpu match='exact'><model>kvm64</model><feature name='vme'/></cpu>",
            "<cpu match='exact'><model>kvm64</model><feature policy='require' name='vme'/><bogus/></cpu>",
            "<cpu mode='host-model'/>",
            "<cpu><model fallback='bad'>kvm64</model></cpu>",
            "<cpu match='exact'><model>kvm64</model><feature policy='bogus' name='vme'/></cpu>",
            "<cpu><model>kvm64</model><topology sockets='1' cores='1' threads='1' dies='1'/></cpu>",
            "<cpu mode='host-passthrough' migratable='on'/>",
            "<cpu><model>kvm64</model><feature policy='require'/></cpu>",
            "<cpu mode='bogus'><model>kvm64</model></cpu>",
            "<cpu match='bogus'><model>kvm64</model></cpu>",
            "<cpu><model>kvm64</model><topology sockets='1'/></cpu>",
            "<cpu><arch>x86_64</arch><model>kvm64</model><feature policy='require' name='vme'/></cpu>",
            "<cpu><arch>x86_64</arch></cpu>",
            "<cpu><model>kvm64</model><model>qemu64</model></cpu>",
            "<cpu><vendor>Intel</vendor><model>kvm64</model></cpu>",
        ]
        for (i, doc) in validateInputs.enumerated() {
            for cmd in both {
                c.append(Case(name: "\(cmd) --validate #\(i)", args: [cmd, "--validate", "FILE"], input: doc))
            }
        }
        let modelDiff = "QEMU 7.2's model and libvirt 9.0's CPU map define the model with different features"
        c += [
            Case(name: "cpu-compare --error EPYC", args: ["cpu-compare", "--error", "FILE"], input: epyc,
                 knownDifference: modelDiff + " (QEMU's EPYC has monitor, npt, nrip-save, topoext)"),
            Case(name: "cpu-compare --error Skylake-Client", args: ["cpu-compare", "--error", "FILE"], input: skylake,
                 knownDifference: modelDiff + " (libvirt's Skylake-Client has mpx)"),
            Case(name: "hypervisor-cpu-compare --error Skylake-Client", args: ["hypervisor-cpu-compare", "--error", "FILE"],
                 input: skylake, knownDifference: modelDiff + " (libvirt's Skylake-Client has mpx)"),
            Case(name: "hypervisor-cpu-compare --error EPYC", args: ["hypervisor-cpu-compare", "--error", "FILE"],
                 input: epyc, knownDifference: modelDiff + " (QEMU's EPYC has monitor, npt, nrip-save, topoext)"),
            Case(name: "hypervisor-cpu-compare --virttype qemu --error kvm64",
                 args: ["hypervisor-cpu-compare", "--virttype", "qemu", "--error", "FILE"], input: kvm64),
            Case(name: "hypervisor-cpu-compare --virttype xen --error kvm64",
                 args: ["hypervisor-cpu-compare", "--virttype", "xen", "--error", "FILE"], input: kvm64),
            Case(name: "hypervisor-cpu-compare --virttype bogus --error kvm64",
                 args: ["hypervisor-cpu-compare", "--virttype", "bogus", "--error", "FILE"], input: kvm64),
            Case(name: "hypervisor-cpu-compare --arch i686 --error kvm64",
                 args: ["hypervisor-cpu-compare", "--arch", "i686", "--error", "FILE"], input: kvm64),
            Case(name: "hypervisor-cpu-compare --machine pc --error kvm64",
                 args: ["hypervisor-cpu-compare", "--machine", "pc", "--error", "FILE"], input: kvm64),
            Case(name: "hypervisor-cpu-compare --machine nope --error kvm64",
                 args: ["hypervisor-cpu-compare", "--machine", "nope", "--error", "FILE"], input: kvm64),
            Case(name: "hypervisor-cpu-compare --emulator qemu-system-i386 --error kvm64",
                 args: ["hypervisor-cpu-compare", "--emulator", "/usr/bin/qemu-system-i386", "--error", "FILE"], input: kvm64),
            Case(name: "hypervisor-cpu-compare --emulator missing --error kvm64",
                 args: ["hypervisor-cpu-compare", "--emulator", "/nonexistent/qemu", "--error", "FILE"], input: kvm64),
            Case(name: "hypervisor-cpu-baseline --virttype qemu domcapabilities",
                 args: ["hypervisor-cpu-baseline", "--virttype", "qemu", "FILE"], input: domcaps),
            Case(name: "hypervisor-cpu-baseline --migratable domcapabilities",
                 args: ["hypervisor-cpu-baseline", "--migratable", "FILE"], input: domcaps),
        ]
        c += [
            Case(name: "cpu-baseline capabilities", args: ["cpu-baseline", "FILE"], input: caps),
            Case(name: "cpu-baseline --features capabilities", args: ["cpu-baseline", "--features", "FILE"], input: caps),
            Case(name: "cpu-baseline --migratable capabilities", args: ["cpu-baseline", "--migratable", "FILE"],
                 input: caps, knownDifference: "libvirt's CPU map marks xsaves as blocking migration; QEMU's only "
                    + "unmigratable CPUID flag is invtsc"),
            Case(name: "cpu-baseline Skylake-Client + EPYC", args: ["cpu-baseline", "FILE"], input: twoHost,
                 knownDifference: modelDiff + " (libvirt's EPYC has vme)"),
            Case(name: "cpu-baseline Skylake-Client + Haswell-noTSX", args: ["cpu-baseline", "FILE"], input: sameFamily),
            Case(name: "cpu-baseline EPYC", args: ["cpu-baseline", "FILE"], input: hostCPU("EPYC"),
                 knownDifference: "libvirt 9.0's CPU map marks monitor as removed from EPYC and disables it in "
                    + "every EPYC it computes; QEMU's EPYC simply has monitor"),
            Case(name: "cpu-baseline qemu64 + EPYC", args: ["cpu-baseline", "FILE"],
                 input: hostCPU("qemu64") + hostCPU("EPYC")),
            Case(name: "cpu-baseline Intel + AMD", args: ["cpu-baseline", "FILE"], input: bothVendors),
            Case(name: "cpu-baseline one CPU with vendor", args: ["cpu-baseline", "FILE"],
                 input: hostCPU("Haswell-noTSX", vendor: "Intel", features: ["avx512f"])),
            Case(name: "cpu-baseline --features Haswell-noTSX", args: ["cpu-baseline", "--features", "FILE"],
                 input: hostCPU("Haswell-noTSX"),
                 knownDifference: modelDiff + " (QEMU's Haswell-noTSX has abm, arat, f16c, rdrand, xsaveopt)"),
            Case(name: "cpu-baseline unknown model", args: ["cpu-baseline", "FILE"], input: hostCPU("Foo")),
            Case(name: "cpu-baseline without arch", args: ["cpu-baseline", "FILE"], input: skylake),
            Case(name: "cpu-baseline guest CPU", args: ["cpu-baseline", "FILE"], input: haswell),
            Case(name: "cpu-baseline vendor of the wrong model", args: ["cpu-baseline", "FILE"],
                 input: hostCPU("Skylake-Client") + hostCPU("EPYC", vendor: "Intel")),
            Case(name: "cpu-baseline no cpu element", args: ["cpu-baseline", "FILE"], input: "<domain/>"),
            Case(name: "hypervisor-cpu-baseline domcapabilities", args: ["hypervisor-cpu-baseline", "FILE"],
                 input: domcaps),
            Case(name: "hypervisor-cpu-baseline --features domcapabilities",
                 args: ["hypervisor-cpu-baseline", "--features", "FILE"], input: domcaps),
            Case(name: "hypervisor-cpu-baseline capabilities", args: ["hypervisor-cpu-baseline", "FILE"], input: caps),
            Case(name: "hypervisor-cpu-baseline Haswell-noTSX +avx512f -fma", args: ["hypervisor-cpu-baseline", "FILE"],
                 input: haswell),
            Case(name: "hypervisor-cpu-baseline --virttype qemu Skylake-Client",
                 args: ["hypervisor-cpu-baseline", "--virttype", "qemu", "FILE"], input: skylake),
            Case(name: "hypervisor-cpu-baseline Skylake-Client + EPYC", args: ["hypervisor-cpu-baseline", "FILE"],
                 input: twoGuest, knownDifference: "the closest model is a tie: kvm64, qemu64 and Opteron_G2 each "
                    + "need 29 changes; libvirt takes the newest model of its CPU map (Opteron_G2), we take the one "
                    + "that disables fewest features (kvm64); libvirt's EPYC also has vme"),
            Case(name: "cpu-compare unknown arch", args: ["cpu-compare", "FILE"], input: "<cpu><arch>foo</arch><model>kvm64</model></cpu>"),
            Case(name: "cpu-baseline unknown arch", args: ["cpu-baseline", "FILE"], input: "<cpu><arch>foo</arch><model>kvm64</model></cpu>"),
            Case(name: "hypervisor-cpu-baseline unknown arch", args: ["hypervisor-cpu-baseline", "FILE"], input: "<cpu><arch>foo</arch><model>kvm64</model></cpu>"),
            Case(name: "cpu-compare bad policy", args: ["cpu-compare", "FILE"], input: "<cpu><model>kvm64</model><feature policy='bogus' name='vme'/></cpu>"),
            Case(name: "cpu-baseline bad policy", args: ["cpu-baseline", "FILE"], input: "<cpu><model>kvm64</model><feature policy='bogus' name='vme'/></cpu>"),
            Case(name: "hypervisor-cpu-baseline bad policy", args: ["hypervisor-cpu-baseline", "FILE"], input: "<cpu><model>kvm64</model><feature policy='bogus' name='vme'/></cpu>"),
            Case(name: "cpu-compare bad mode", args: ["cpu-compare", "FILE"], input: "<cpu mode='bogus'><model>kvm64</model></cpu>"),
            Case(name: "cpu-baseline bad mode", args: ["cpu-baseline", "FILE"], input: "<cpu mode='bogus'><model>kvm64</model></cpu>"),
            Case(name: "hypervisor-cpu-baseline bad mode", args: ["hypervisor-cpu-baseline", "FILE"], input: "<cpu mode='bogus'><model>kvm64</model></cpu>"),
            Case(name: "cpu-compare bad match", args: ["cpu-compare", "FILE"], input: "<cpu match='bogus'><model>kvm64</model></cpu>"),
            Case(name: "cpu-baseline bad match", args: ["cpu-baseline", "FILE"], input: "<cpu match='bogus'><model>kvm64</model></cpu>"),
            Case(name: "hypervisor-cpu-baseline bad match", args: ["hypervisor-cpu-baseline", "FILE"], input: "<cpu match='bogus'><model>kvm64</model></cpu>"),
            Case(name: "cpu-compare feature twice", args: ["cpu-compare", "FILE"], input: "<cpu><model>kvm64</model><feature name='vme'/><feature name='vme'/></cpu>"),
            Case(name: "cpu-baseline feature twice", args: ["cpu-baseline", "FILE"], input: "<cpu><model>kvm64</model><feature name='vme'/><feature name='vme'/></cpu>"),
            Case(name: "hypervisor-cpu-baseline feature twice", args: ["hypervisor-cpu-baseline", "FILE"], input: "<cpu><model>kvm64</model><feature name='vme'/><feature name='vme'/></cpu>"),
            Case(name: "cpu-compare feature without name", args: ["cpu-compare", "FILE"], input: "<cpu><model>kvm64</model><feature policy='require'/></cpu>"),
            Case(name: "cpu-baseline feature without name", args: ["cpu-baseline", "FILE"], input: "<cpu><model>kvm64</model><feature policy='require'/></cpu>"),
            Case(name: "hypervisor-cpu-baseline feature without name", args: ["hypervisor-cpu-baseline", "FILE"], input: "<cpu><model>kvm64</model><feature policy='require'/></cpu>"),
            Case(name: "cpu-compare arch and match", args: ["cpu-compare", "FILE"], input: "<cpu match='exact'><arch>x86_64</arch><model>kvm64</model></cpu>"),
            Case(name: "cpu-baseline arch and match", args: ["cpu-baseline", "FILE"], input: "<cpu match='exact'><arch>x86_64</arch><model>kvm64</model></cpu>"),
            Case(name: "hypervisor-cpu-baseline arch and match", args: ["hypervisor-cpu-baseline", "FILE"], input: "<cpu match='exact'><arch>x86_64</arch><model>kvm64</model></cpu>"),
            Case(name: "cpu-compare vendor without model", args: ["cpu-compare", "FILE"], input: "<cpu><arch>x86_64</arch><vendor>Intel</vendor></cpu>"),
            Case(name: "cpu-baseline vendor without model", args: ["cpu-baseline", "FILE"], input: "<cpu><arch>x86_64</arch><vendor>Intel</vendor></cpu>"),
            Case(name: "hypervisor-cpu-baseline vendor without model", args: ["hypervisor-cpu-baseline", "FILE"], input: "<cpu><arch>x86_64</arch><vendor>Intel</vendor></cpu>"),
            Case(name: "cpu-compare unknown vendor", args: ["cpu-compare", "FILE"], input: "<cpu><arch>x86_64</arch><model>kvm64</model><vendor>Foo</vendor></cpu>"),
            Case(name: "cpu-baseline unknown vendor", args: ["cpu-baseline", "FILE"], input: "<cpu><arch>x86_64</arch><model>kvm64</model><vendor>Foo</vendor></cpu>"),
            Case(name: "hypervisor-cpu-baseline unknown vendor", args: ["hypervisor-cpu-baseline", "FILE"], input: "<cpu><arch>x86_64</arch><model>kvm64</model><vendor>Foo</vendor></cpu>"),
            Case(name: "hypervisor-cpu-baseline unknown model", args: ["hypervisor-cpu-baseline", "FILE"],
                 input: guestCPU("Foo")),
            Case(name: "hypervisor-cpu-baseline --model", args: ["hypervisor-cpu-baseline", "--model", "Skylake-Client"]),
            Case(name: "hypervisor-cpu-baseline --model --features",
                 args: ["hypervisor-cpu-baseline", "--model", "kvm64", "--features"]),
            Case(name: "hypervisor-cpu-baseline --model unknown", args: ["hypervisor-cpu-baseline", "--model", "Foo"]),
            Case(name: "hypervisor-cpu-baseline --model not XML", args: ["hypervisor-cpu-baseline", "--model", "<a'"]),
            Case(name: "hypervisor-cpu-baseline neither file nor model", args: ["hypervisor-cpu-baseline"]),
            Case(name: "hypervisor-cpu-baseline file and model", args: ["hypervisor-cpu-baseline", "FILE", "--model", "kvm64"],
                 input: skylake),
            Case(name: "hypervisor-cpu-baseline --file", args: ["hypervisor-cpu-baseline", "--file", "FILE"], input: skylake),
            Case(name: "hypervisor-cpu-baseline host-passthrough", args: ["hypervisor-cpu-baseline", "FILE"],
                 input: "<cpu mode='host-passthrough'/>"),
        ]
        return c
    }

    /// The answer with feature names and model names taken out: what must agree even where models differ.
    static func shape(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).compactMap { line -> String? in
            if line.contains("<feature ") { return nil }
            if line.contains("<model") { return "<model/>" }
            if let r = line.range(of: "features: ") { return String(line[..<r.upperBound]) }
            return String(line)
        }.joined(separator: "\n")
    }

    @Test("the four commands answer as libvirtd 9.0 does; vsh prints what virsh prints on either daemon")
    func differential() throws {
        let ref = try ReferenceLibvirtd()
        defer { ref.stop() }
        let ours = try RestartableVirtd(config: CapabilitiesDifferentialTests.securityConfig)
        defer { ours.cleanup() }
        let dir = try TestPaths.makeTempDir("cpucmp", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let refURI = "qemu+unix:///system?socket=\(ref.socket)"
        let caps = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, "capabilities"])
        let domcaps = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, "domcapabilities"])
        let ourCaps = try ours.virsh(args: ["capabilities"])
        try #require(caps.status == 0 && domcaps.status == 0 && ourCaps.status == 0)

        var same = 0
        var explained: [String] = []
        var report = ""
        for (i, c) in Self.cases(caps: caps.stdout, domcaps: domcaps.stdout, ourCaps: ourCaps.stdout).enumerated() {
            var args = c.args
            if let input = c.input {
                let file = dir + "/case\(i).xml"
                try input.write(toFile: file, atomically: true, encoding: .utf8)
                args = args.map { $0 == "FILE" ? file : $0 }
            }
            let r = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI] + args)
            let o = try ours.virsh(args: args)
            let v = try ours.virsh(args: args, client: TestPaths.vsh)
            #expect(v.stdout == o.stdout && v.stderr == o.stderr && v.status == o.status,
                    "\(c.name): vsh \(v.stdout)\(v.stderr) virsh \(o.stdout)\(o.stderr)")
            // vsh through libvirtd: our client side against libvirt's server.
            let vr = try ChildProcess.run([TestPaths.vsh, "-c", refURI] + args)
            #expect(vr.stdout == r.stdout && vr.stderr == r.stderr && vr.status == r.status,
                    "\(c.name): vsh on libvirtd \(vr.stdout)\(vr.stderr) virsh \(r.stdout)\(r.stderr)")
            let identical = r.stdout == o.stdout && r.stderr == o.stderr && r.status == o.status
            if identical {
                same += 1
                continue
            }
            if let why = c.knownDifference {
                // Where the models differ, the kind of answer still agrees.
                #expect(r.status == o.status, "\(c.name): status \(o.status), libvirt \(r.status)")
                #expect(Self.shape(r.stdout) == Self.shape(o.stdout) && Self.shape(r.stderr) == Self.shape(o.stderr),
                        "\(c.name): libvirt \(r.stdout)\(r.stderr)ours \(o.stdout)\(o.stderr)")
                explained.append(c.name)
                report += "  \(c.name): \(why)\n    libvirt: \((r.stdout + r.stderr).replacingOccurrences(of: "\n", with: " "))\n"
                    + "    ours:    \((o.stdout + o.stderr).replacingOccurrences(of: "\n", with: " "))\n"
            } else {
                Issue.record("\(c.name) differs:\nlibvirt (\(r.status)): \(r.stdout)\(r.stderr)\nours (\(o.status)): \(o.stdout)\(o.stderr)")
            }
        }
        print("== CPU compare/baseline: \(same) cases identical to libvirt 9.0, \(explained.count) differ as explained\n"
            + report)
        #expect(same >= 100)
    }

    /// python3-libvirt's four calls on each input, with flags, an empty list and unsupported flags: one line each.
    static let pythonScript = """
        import sys, libvirt
        libvirt.registerErrorHandler(lambda c, e: None, None)
        c = libvirt.open(sys.argv[1])
        xml = [open(f).read() for f in sys.argv[2:]]
        def run(name, f):
            try:
                print(name, repr(f()))
            except libvirt.libvirtError as e:
                print(name, "error", e.get_error_code(), e.get_error_domain(), e.get_error_message())
        for i, x in enumerate(xml):
            run("compareCPU %d" % i, lambda: c.compareCPU(x, 0))
            run("compareCPU fail %d" % i, lambda: c.compareCPU(x, libvirt.VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE))
            run("compareHypervisorCPU %d" % i, lambda: c.compareHypervisorCPU(None, None, None, None, x, 0))
            run("baselineCPU %d" % i, lambda: c.baselineCPU([x], 0))
            run("baselineHypervisorCPU %d" % i, lambda: c.baselineHypervisorCPU(None, None, None, None, [x], 0))
        run("baselineCPU none", lambda: c.baselineCPU([], 0))
        run("baselineHypervisorCPU none", lambda: c.baselineHypervisorCPU(None, None, None, None, [], 0))
        run("compareCPU flags", lambda: c.compareCPU(xml[0], 4))
        run("baselineCPU flags", lambda: c.baselineCPU(xml[:1], 8))
        run("baselineCPU twice", lambda: c.baselineCPU([xml[1], xml[1]], 0))
        """

    @Test("python3-libvirt gets libvirtd's answers and errors from virtd")
    func python() throws {
        let ref = try ReferenceLibvirtd()
        defer { ref.stop() }
        let ours = try RestartableVirtd(config: CapabilitiesDifferentialTests.securityConfig)
        defer { ours.cleanup() }
        let dir = try TestPaths.makeTempDir("cpucmp", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let refURI = "qemu+unix:///system?socket=\(ref.socket)"
        let caps = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, "capabilities"])
        let domcaps = try ChildProcess.run(["/usr/bin/virsh", "-c", refURI, "domcapabilities"])
        try #require(caps.status == 0 && domcaps.status == 0)
        let hostCPU = try #require(caps.stdout.range(of: "<cpu>").flatMap { a in
            caps.stdout.range(of: "</cpu>").map { String(caps.stdout[a.lowerBound..<$0.upperBound]) }
        })
        let inputs = [Self.hostCPU("Haswell-noTSX", features: ["avx512f"]), hostCPU,
                      Self.guestCPU("kvm64", features: [("require", "vme"), ("disable", "pni")]), Self.guestCPU("Foo"),
                      domcaps.stdout]
        var files: [String] = []
        for (i, x) in inputs.enumerated() {
            files.append(dir + "/py\(i).xml")
            try x.write(toFile: files[i], atomically: true, encoding: .utf8)
        }
        let r = try ChildProcess.run(["/usr/bin/python3", "-c", Self.pythonScript, refURI] + files)
        let o = try ChildProcess.run(["/usr/bin/python3", "-c", Self.pythonScript, ours.uri] + files)
        #expect(r.status == 0 && o.status == 0, "\(r.stderr)\(o.stderr)")
        #expect(r.stdout.split(separator: "\n").count == 30)
        let diff = o.stdout.split(separator: "\n").difference(from: r.stdout.split(separator: "\n"))
        #expect(diff.isEmpty, "python3-libvirt: \(diff)")
    }

    @Test("vsh's help for the four commands is virsh's")
    func help() throws {
        for cmd in ["cpu-compare", "cpu-baseline", "hypervisor-cpu-compare", "hypervisor-cpu-baseline"] {
            let r = try ChildProcess.run(["/usr/bin/virsh", "help", cmd])
            let v = try ChildProcess.run([TestPaths.vsh, "help", cmd])
            #expect(r.status == 0 && v.stdout == r.stdout, "help \(cmd): \(v.stdout)")
        }
    }

    @Test("a read-only connection may compare and baseline against the host, not against the hypervisor")
    func readOnly() throws {
        let ref = try ReferenceLibvirtd()
        defer { ref.stop() }
        let ours = try RestartableVirtd(config: CapabilitiesDifferentialTests.securityConfig)
        defer { ours.cleanup() }
        let dir = try TestPaths.makeTempDir("cpucmp", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/cpu.xml"
        try Self.hostCPU("qemu64").write(toFile: file, atomically: true, encoding: .utf8)
        let refRO = "qemu+unix:///system?socket=\(ref.readOnlySocket)"
        let ourRO = "qemu+unix:///system?socket=\(ours.dir)/run/virtd-sock-ro"
        for cmd in ["cpu-compare", "cpu-baseline", "hypervisor-cpu-compare", "hypervisor-cpu-baseline"] {
            let r = try ChildProcess.run(["/usr/bin/virsh", "-c", refRO, cmd, file])
            let o = try ChildProcess.run(["/usr/bin/virsh", "-c", ourRO, cmd, file])
            #expect(r.stdout == o.stdout && r.stderr == o.stderr && r.status == o.status,
                    "\(cmd): libvirt \(r.stdout)\(r.stderr) ours \(o.stdout)\(o.stderr)")
        }
    }
}
