import Foundation
import Testing
import VirtCore
@testable import VirtQEMU

/// The pieces of an encrypted disk's start that need no QEMU: AES-256-CBC against known answers and the
/// command line's objects and format nodes in the shape libvirt 9.0 writes them.
@Suite struct QEMUDiskEncryptionTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16) ?? 0)
            i = j
        }
        return out
    }

    /// FIPS-197 appendix C.3 (AES-256, one block).
    @Test func aes256KnownAnswer() {
        let key = Self.bytes("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        let block = QEMUSecretCipher.encryptBlock(Self.bytes("00112233445566778899aabbccddeeff"),
                                                  QEMUSecretCipher.expandKey(key))
        #expect(block == Self.bytes("8ea2b7ca516745bfeafc49904b496089"))
    }

    /// CBC with PKCS#7 padding, against openssl's `enc -aes-256-cbc` (its output for the same key, IV and
    /// input): 5 bytes pad to one block, 16 bytes take a whole block of padding.
    @Test func cbcMatchesOpenSSL() throws {
        let key = Self.bytes("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
        let iv = Self.bytes("000102030405060708090a0b0c0d0e0f")
        for input in [Array("pass1".utf8), Array("0123456789abcdef".utf8)] {
            let ours = QEMUSecretCipher.encryptCBC(input, key: key, iv: iv)
            #expect(ours.count == (input.count / 16 + 1) * 16)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            p.arguments = ["enc", "-aes-256-cbc", "-K", key.map { String(format: "%02x", $0) }.joined(),
                           "-iv", iv.map { String(format: "%02x", $0) }.joined()]
            let inPipe = Pipe(), outPipe = Pipe()
            p.standardInput = inPipe
            p.standardOutput = outPipe
            try p.run()
            inPipe.fileHandleForWriting.write(Data(input))
            try inPipe.fileHandleForWriting.close()
            let theirs = [UInt8](outPipe.fileHandleForReading.readDataToEndOfFile())
            p.waitUntilExit()
            #expect(ours == theirs)
        }
    }

    static let xml = """
        <domain type='qemu'>
          <name>enc</name>
          <uuid>5b1c9a0e-3f2d-4c8b-9e61-7a0d2c4f8b13</uuid>
          <memory unit='MiB'>128</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='q35'>hvm</type></os>
          <devices>
            <disk type='file' device='disk'><driver name='qemu' type='raw'/>
              <source file='/srv/images/enc'><encryption format='luks'>
                <secret type='passphrase' uuid='d3f1e2a4-6b7c-4d8e-9f01-23456789abcd'/></encryption></source>
              <target dev='vda' bus='virtio'/></disk>
            <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
              <source file='/srv/images/enc2'/>
              <target dev='vdb' bus='virtio'/>
              <encryption format='luks'><secret type='passphrase' usage='/srv/images/enc2'/></encryption>
            </disk>
            <memballoon model='none'/>
          </devices>
        </domain>
        """

    @Test func commandLineObjectsAndNodes() throws {
        let def = try DomainDefinition.parse(Self.xml)
        let enc = def.devices.disks.map { QEMUDiskEncryption.of($0) }
        #expect(enc[0] == QEMUDiskEncryption(format: "luks", secretUUID: "d3f1e2a4-6b7c-4d8e-9f01-23456789abcd",
                                             secretUsage: nil))
        #expect(enc[1] == QEMUDiskEncryption(format: "luks", secretUUID: nil,
                                             secretUsage: "/srv/images/enc2"))
        var cl = QEMUCommandLine(definition: QEMUCommandLine.prepared(def, capabilities: nil))
        cl.capabilities = nil
        cl.privateDir = "/var/lib/libvirt/qemu/domain-1-enc"
        let key = [UInt8](repeating: 7, count: 32)
        let s = try QEMUEncryptedSecret(value: Array("pass1".utf8), masterKey: key)
        cl.diskSecrets = ["vda": s, "vdb": s]
        let args = try cl.arguments()
        func values(_ opt: String) -> [String] {
            args.indices.filter { args[$0] == opt && $0 + 1 < args.count }.map { args[$0 + 1] }
        }
        // libvirt 9.0's shape: the master key first, each disk's secret (AES-256-CBC under the master key,
        // base64, with its IV) right before the disk's nodes, the format node naming the secret.
        #expect(values("-object").first
            == #"{"qom-type":"secret","id":"masterKey0","format":"raw","file":"/var/lib/libvirt/qemu/domain-1-enc/master-key.aes"}"#)
        let secret2 = #"{"qom-type":"secret","id":"libvirt-2-format-encryption-secret0","data":""# + s.data
            + #"","keyid":"masterKey0","iv":""# + s.iv + #"","format":"base64"}"#
        #expect(values("-object").contains(secret2))
        let blockdevs = values("-blockdev")
        #expect(blockdevs.contains(#"{"node-name":"libvirt-2-format","read-only":false,"driver":"luks","key-secret":"libvirt-2-format-encryption-secret0","file":"libvirt-2-storage"}"#))
        #expect(blockdevs.contains(#"{"node-name":"libvirt-1-format","read-only":false,"driver":"qcow2","encrypt":{"format":"luks","key-secret":"libvirt-1-format-encryption-secret0"},"file":"libvirt-1-storage"}"#))
        // Each secret object comes right before its disk's storage node.
        let i = try #require(args.firstIndex(of: secret2))
        #expect(args[i + 2].contains(#""node-name":"libvirt-2-storage""#))
        // Without its passphrase an encrypted disk is not built.
        cl.diskSecrets = [:]
        #expect(throws: VirtError.self) { try cl.arguments() }
    }

    /// libvirt 9.0's refusals at define (its embedded driver's words for the same disks, python3-libvirt
    /// `defineXML`): old qcow encryption, LUKS2, formats other than raw and qcow2.
    @Test(arguments: [
        ("qcow", "qcow2", "unsupported configuration: old qcow/qcow2 encryption is not supported"),
        ("default", "qcow2", "unsupported configuration: old qcow/qcow2 encryption is not supported"),
        ("luks2", "raw", "unsupported configuration: luks2 is currently not supported by the qemu encryption engine"),
        ("luks", "vmdk", "unsupported configuration: encryption is supported only with 'raw' and 'qcow2' image format"),
        ("luks", "qcow2", ""), ("luks", "raw", ""),
    ])
    func refusedAtDefine(format: String, diskFormat: String, message: String) throws {
        let xml = "<domain type='qemu'><name>e</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
            + "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices><disk type='file' device='disk'>"
            + "<driver name='qemu' type='\(diskFormat)'/><source file='/tmp/x.img'><encryption format='\(format)'>"
            + "<secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/></encryption></source>"
            + "<target dev='vda' bus='virtio'/></disk></devices></domain>"
        let disk = try #require(try DomainDefinition.parse(xml).devices.disks.first)
        do {
            try QEMUDiskEncryption.validate(disk)
            #expect(message.isEmpty)
        } catch {
            #expect(error.message == message)
            #expect(error.code == .configUnsupported && error.domain == .qemu)
        }
    }

    /// The master key file: 32 bytes, mode 0600, read back as written.
    @Test func masterKeyFile() throws {
        let dir = NSTemporaryDirectory() + "mk-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let key = try QEMUMasterKey.create(in: dir, owner: nil)
        #expect(key.count == 32)
        #expect(QEMUMasterKey.read(from: dir) == key)
        let attrs = try FileManager.default.attributesOfItem(atPath: dir + "/master-key.aes")
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
        // A new start makes a new key.
        #expect(try QEMUMasterKey.create(in: dir, owner: nil) != key)
    }
}
