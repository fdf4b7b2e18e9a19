import Foundation
import Testing
import VirtTestSupport
import VirtCore
@testable import VirtQEMU

/// Compares our QEMU command line with libvirt 9.0's (`domxml-to-native qemu-argv` through the embedded QEMU
/// driver of python3-libvirt, no daemon) for every conformance input, on the same QEMU binaries.
///
/// Both sides are normalised: the environment and binary, the monitor chardev, the master-key secret, the
/// embedded driver's root directory and tap/vhost descriptor numbers. Cases listed in
/// `Resources/argv-baseline.txt` must match; the suite prints the pass count and every differing case.
/// `SWIFTVIRT_UPDATE_ARGV_BASELINE=1` rewrites the baseline with the cases that match now.
@Suite(.serialized, .tags(.qemu)) struct QEMUArgvDifferentialTests {
    static var inputDir: String {
        TestPaths.repoRoot + "/Tests/VirtCoreTests/Resources/conformance/libvirt-9.6.0/input"
    }
    /// Our own inputs, for elements the conformance inputs do not exercise.
    static var extraInputDir: String {
        TestPaths.repoRoot + "/Tests/VirtQEMUTests/Resources/argv-inputs"
    }
    static var baselineFile: String {
        TestPaths.repoRoot + "/Tests/VirtQEMUTests/Resources/argv-baseline.txt"
    }

    /// Each conversion runs in a forked child with its own embedded-driver connection: conversions in one
    /// connection are not independent (an earlier one can shift a later one's PCI addresses).
    static let referenceScript = """
        import json, os, sys, libvirt
        root = sys.argv[1]
        out = {}
        for f in sys.argv[2:]:
            name = f.rsplit('/', 1)[-1][:-4]
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                libvirt.virEventRegisterDefaultImpl()
                libvirt.registerErrorHandler(lambda a, b: None, None)
                try:
                    c = libvirt.open("qemu:///embed?root=" + root)
                    res = {"argv": c.domainXMLToNative("qemu-argv", open(f).read(), 0)}
                except libvirt.libvirtError as e:
                    res = {"error": str(e)}
                os.write(w, json.dumps(res).encode())
                os._exit(0)
            os.close(w)
            data = b""
            while True:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                data += chunk
            os.close(r)
            os.waitpid(pid, 0)
            out[name] = json.loads(data) if data else {"error": "no result"}
        print(json.dumps(out))
        """

    /// libvirt's argv for each input (or its error), keyed by case name.
    static func reference(root: String, files: [String]) throws -> [String: (argv: String?, error: String?)] {
        let script = root + "/ref.py"
        try referenceScript.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try ChildProcess.run(["/usr/bin/python3", script, root + "/embed"] + files, timeLimit: 1800)
        guard r.status == 0,
              let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: [String: String]] else {
            throw VirtError(.internalError, "python3-libvirt reference run failed (status \(r.status))")
        }
        return obj.mapValues { ($0["argv"], $0["error"]) }
    }

    /// Splits a shell-quoted command line as libvirt prints it (single quotes, backslash escapes).
    static func shellSplit(_ s: String) -> [String] {
        var out: [String] = []
        var cur = ""
        var inToken = false
        var quote: Character?
        var escape = false
        for ch in s {
            if escape { cur.append(ch); escape = false; continue }
            if let q = quote {
                if ch == q { quote = nil } else { cur.append(ch) }
                continue
            }
            switch ch {
            case "'", "\"": quote = ch; inToken = true
            case "\\": escape = true; inToken = true
            case " ", "\n", "\t":
                if inToken { out.append(cur); cur = ""; inToken = false }
            default: cur.append(ch); inToken = true
            }
        }
        if inToken { out.append(cur) }
        return out
    }

    /// Removes what legitimately differs between the two sides.
    static func normalise(_ tokens: [String], root: String) -> [String] {
        var t = tokens
        // Environment assignments and the binary.
        while let f = t.first, f.contains("="), !f.hasPrefix("-") { t.removeFirst() }
        if let f = t.first, !f.hasPrefix("-") { t.removeFirst() }
        var out: [String] = []
        var i = 0
        while i < t.count {
            let opt = t[i]
            let val = i + 1 < t.count ? t[i + 1] : ""
            if opt == "-chardev" && val.contains("id=charmonitor") { i += 2; continue }
            if opt == "-mon" && val.contains("chardev=charmonitor") { i += 2; continue }
            if opt == "-object" && val.contains(#""id":"masterKey0""#) { i += 2; continue }
            var v = opt.replacingOccurrences(of: root, with: "<ROOT>")
            for key in ["fd", "vhostfd"] {
                v = v.replacingOccurrences(of: #""\#(key)":"[0-9:]+""#, with: #""\#(key)":"<FD>""#,
                                           options: .regularExpression)
            }
            out.append(v)
            i += 1
        }
        return out
    }

    struct Outcome {
        var name: String
        var matched: Bool
        var detail: String
    }

    static func compare(name: String, ours: Result<[String], VirtError>, ref: (argv: String?, error: String?),
                        root: String) -> Outcome {
        switch (ours, ref.argv) {
        case (.failure(let e), nil):
            // Our inputs named "-refused-" are there for the error: its words must be libvirt's.
            if name.contains("-refused-") && e.message != ref.error {
                return Outcome(name: name, matched: false,
                               detail: "different errors: libvirt '\(ref.error ?? "")', ours '\(e.message)'")
            }
            return Outcome(name: name, matched: true, detail: "both fail: libvirt '\(ref.error ?? "")', ours '\(e)'")
        case (.failure(let e), _?):
            return Outcome(name: name, matched: false, detail: "ours fails: \(e)")
        case (.success, nil):
            return Outcome(name: name, matched: false, detail: "libvirt fails: \(ref.error ?? ""), ours succeeds")
        case (.success(let a), let r?):
            let ourT = normalise(["/bin"] + a, root: root)
            let refT = normalise(shellSplit(r), root: root)
            if ourT == refT { return Outcome(name: name, matched: true, detail: "") }
            let diff = ourT.difference(from: refT)
            var lines: [String] = []
            for change in diff {
                switch change {
                case .insert(_, let e, _): lines.append("  + \(e)")
                case .remove(_, let e, _): lines.append("  - \(e)")
                }
            }
            return Outcome(name: name, matched: false, detail: lines.joined(separator: "\n"))
        }
    }

    @Test func argvMatchesLibvirt() async throws {
        let root = try TestPaths.makeTempDir("argv")
        defer { TestPaths.removeDir(root) }
        var files: [String] = []
        for dir in [Self.inputDir, Self.extraInputDir] {
            files += try FileManager.default.contentsOfDirectory(atPath: dir)
                .filter { $0.hasSuffix(".xml") }.sorted().map { dir + "/" + $0 }
        }
        #expect(files.count > 50)
        let refs = try Self.reference(root: root, files: files)
        let caps = QEMUCapabilitiesCache(cacheDir: root + "/caps", runDir: root + "/run")
        let embedRoot = root + "/embed"
        var outcomes: [Outcome] = []
        for file in files {
            let name = String(file.split(separator: "/").last?.dropLast(4) ?? "")
            guard let ref = refs[name] else { Issue.record("no reference for \(name)"); continue }
            let xml = try String(contentsOfFile: file, encoding: .utf8)
            let ours: Result<[String], VirtError>
            do throws(VirtError) {
                // As libvirt's domxml-to-native parses (with ABI update).
                let def = try DomainDefinition.parse(xml, options: DomainParseOptions(abiUpdate: true))
                let emulator = def.devices.emulator ?? QEMUCommandLine.defaultEmulator
                let c = try await caps.capabilities(for: emulator)
                var cl = QEMUCommandLine(definition: def, capabilities: c)
                cl.nativeConversion = true
                cl.tlsX509Dir = embedRoot + "/etc/pki/qemu"
                cl.channelTargetDir = embedRoot + "/lib/qemu/channel/target/domain--1-" + def.name
                cl.privateDir = embedRoot + "/lib/qemu/domain--1-" + def.name
                cl.memoryBackingDir = embedRoot + "/lib/qemu/ram/" + QEMUDriverPaths.shortName(id: -1, name: def.name)
                ours = .success(try cl.arguments())
            } catch {
                ours = .failure(error)
            }
            outcomes.append(Self.compare(name: name, ours: ours, ref: ref, root: embedRoot))
        }
        let passing = outcomes.filter(\.matched).map(\.name)
        let bothFail = outcomes.filter { $0.matched && !$0.detail.isEmpty }
        var report = "QEMU argv differential: \(passing.count)/\(outcomes.count) cases match libvirt 9.0 "
            + "(\(passing.count - bothFail.count) identical argv, \(bothFail.count) refused by both)\n"
        for o in bothFail { report += "BOTH REFUSE \(o.name): \(o.detail)\n" }
        for o in outcomes where !o.matched { report += "DIFFERS \(o.name):\n\(o.detail)\n" }
        print(report)
        if ProcessInfo.processInfo.environment["SWIFTVIRT_UPDATE_ARGV_BASELINE"] == "1" {
            let header = "# Conformance inputs whose QEMU argv matches libvirt 9.0 (regenerate: SWIFTVIRT_UPDATE_ARGV_BASELINE=1)\n"
            try (header + passing.joined(separator: "\n") + "\n").write(toFile: Self.baselineFile, atomically: true,
                                                                encoding: .utf8)
        }
        let baseline = ((try? String(contentsOfFile: Self.baselineFile, encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty && !$0.hasPrefix("#") }
        #expect(!baseline.isEmpty, "the baseline file is missing or empty")
        for name in baseline {
            guard let o = outcomes.first(where: { $0.name == name }) else {
                Issue.record("baseline case \(name) has no input"); continue
            }
            #expect(o.matched, "\(name) matched libvirt before and differs now:\n\(o.detail)")
        }
    }
}
