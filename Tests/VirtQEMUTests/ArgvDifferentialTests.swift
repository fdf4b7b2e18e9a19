import Foundation
import Testing
import VirtCore
@testable import VirtQEMU

#if canImport(Glibc)
import Glibc
#endif

/// Our argv against the reference: libvirt 9.0's `virsh -c qemu:///embed?root=DIR domxml-to-native
/// qemu-argv` for the same XML on the same QEMU (its embedded QEMU driver, no daemon needed).
///
/// Normalised before comparing: the environment prefix and the binary; the monitor socket (libvirt gives a
/// path, we pass a descriptor); the master-key secret object (we have no secrets yet).
@Suite(.serialized) struct ArgvDifferentialTests {
    static let cases: [(String, String)] = [
        ("q35-kernel-serials", """
            <domain type='kvm'>
              <name>min</name>
              <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
              <memory unit='MiB'>128</memory>
              <vcpu>2</vcpu>
              <os><type arch='x86_64' machine='q35'>hvm</type><kernel>/k,ern</kernel><initrd>/initrd</initrd>
                <cmdline>console=ttyS0 a=b,c</cmdline></os>
              <devices>
                <emulator>/usr/bin/qemu-system-x86_64</emulator>
                <serial type='pty'/>
                <serial type='file'><source path='/tmp/ser,1.log'/></serial>
                <serial type='unix'><source mode='bind' path='/tmp/ser.sock'/></serial>
                <memballoon model='none'/>
              </devices>
            </domain>
            """),
        ("pc-tcg-topology", """
            <domain type='qemu'>
              <name>pc1</name>
              <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1810</uuid>
              <memory unit='KiB'>262144</memory>
              <vcpu current='2'>4</vcpu>
              <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/><boot dev='hd'/>
                <bootmenu enable='yes' timeout='500'/></os>
              <features><acpi/></features>
              <cpu mode='custom'><model>Nehalem</model><topology sockets='2' dies='1' cores='2' threads='1'/></cpu>
              <clock offset='localtime'/>
              <on_reboot>destroy</on_reboot>
              <devices>
                <controller type='usb' model='none'/>
                <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
                  <source file='/var/lib/img,1.qcow2'/><target dev='hda' bus='ide'/></disk>
                <disk type='block' device='cdrom'><driver name='qemu' type='raw'/>
                  <source dev='/dev/sr0'/><target dev='hdc' bus='ide'/><readonly/></disk>
                <disk type='file' device='cdrom'><target dev='hdd' bus='ide'/><readonly/></disk>
                <serial type='tcp'><source mode='bind' host='127.0.0.1' service='4555'/><protocol type='telnet'/></serial>
                <serial type='null'/>
              </devices>
            </domain>
            """),
    ]

    /// Splits a shell command line as virsh prints it (single-quoted words, backslash escapes).
    static func shellWords(_ s: String) -> [String] {
        var words: [String] = []
        var cur = ""
        var inWord = false
        var quote = false
        var it = s.makeIterator()
        while let c = it.next() {
            if quote {
                if c == "'" { quote = false } else { cur.append(c) }
            } else if c == "'" {
                quote = true
                inWord = true
            } else if c == "\\" {
                if let n = it.next(), n != "\n" { cur.append(n); inWord = true }
            } else if c == " " || c == "\n" || c == "\t" {
                if inWord { words.append(cur) }
                cur = ""
                inWord = false
            } else {
                cur.append(c)
                inWord = true
            }
        }
        if inWord { words.append(cur) }
        return words
    }

    static func normalise(_ args: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            let next = i + 1 < args.count ? args[i + 1] : ""
            if a == "-object" && next.contains(#""id":"masterKey0""#) { i += 2; continue }
            if a == "-chardev" && next.hasPrefix("socket,id=charmonitor,") {
                out += [a, "socket,id=charmonitor,MONITOR,server=on,wait=off"]
                i += 2
                continue
            }
            out.append(a)
            i += 1
        }
        return out
    }

    static func libvirtArgv(_ xml: String, root: String) throws -> [String] {
        let file = root + "/in.xml"
        try xml.write(toFile: file, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/virsh")
        p.arguments = ["-c", "qemu:///embed?root=\(root)/libvirt", "domxml-to-native", "qemu-argv", file]
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw VirtError(.internalError, "virsh failed: \(String(decoding: errData, as: UTF8.self))")
        }
        let words = shellWords(text)
        guard let bin = words.firstIndex(where: { $0.contains("/qemu-system-") }) else {
            throw VirtError(.internalError, "no QEMU binary in virsh output: \(text)")
        }
        return Array(words[(bin + 1)...])
    }

    @Test func argvMatchesLibvirt() async throws {
        let root = try QEMUTestSupport.makeTempDir("argv")
        defer { QEMUTestSupport.removeDir(root) }
        let caps = try await QEMUCapabilitiesCache(cacheDir: root + "/cache", runDir: root + "/run")
            .capabilities(for: QEMUTestSupport.qemuBinary)
        var matched = 0
        for (name, xml) in Self.cases {
            let reference = Self.normalise(try Self.libvirtArgv(xml, root: root))
            let def = try DomainDefinition.parse(xml)
            let ours = Self.normalise(try QEMUCommandLine(definition: def, capabilities: caps).arguments())
            #expect(ours == reference, "\(name):\nours: \(ours)\nlibvirt: \(reference)")
            if ours == reference { matched += 1 }
        }
        #expect(matched == Self.cases.count)
    }

    @Test func shellWordSplitting() {
        #expect(Self.shellWords("a 'b c' d\\ e '{\"x\":1}'") == ["a", "b c", "d e", "{\"x\":1}"])
    }
}
