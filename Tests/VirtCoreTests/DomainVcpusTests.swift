import Testing
@testable import VirtCore

/// `<vcpus>`: per-vCPU states parsed, validated and formatted as libvirt 9.0 does (expected strings observed with
/// Debian's libvirtd 9.0, `define` then `dumpxml --inactive`, QEMU and test drivers alike), and the persistent
/// count changes of `setvcpus --config` (libvirt's qemuDomainSetVcpusConfig).
@Suite struct DomainVcpusTests {
    static func xml(_ vcpu: String) -> String {
        "<domain type='test'><name>t</name><memory unit='MiB'>128</memory>\(vcpu)<os><type>hvm</type></os></domain>"
    }

    static func vcpuLines(_ def: DomainDefinition) -> [String] {
        def.formatXML().split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("<vcpu") || $0.hasPrefix("</vcpus") }
    }

    static func message(_ vcpu: String, qemu: Bool = false) -> String? {
        do {
            _ = try DomainDefinition.parse(xml(vcpu), options: DomainParseOptions(qemuVcpuRules: qemu))
            return nil
        } catch {
            return error.message
        }
    }

    @Test func listedStatesWinOverCurrentAndGetDefaults() throws {
        let d = try DomainDefinition.parse(Self.xml("""
            <vcpu placement='static' current='3'>4</vcpu><vcpus><vcpu id='0' enabled='yes'/>\
            <vcpu id='1' enabled='yes'/><vcpu id='3' enabled='no' hotpluggable='yes'/></vcpus>
            """))
        #expect(d.currentVcpus == 2)
        #expect(d.individualVcpus)
        #expect(Self.vcpuLines(d) == [
            "<vcpu placement='static' current='2'>4</vcpu>", "<vcpus>",
            "<vcpu id='0' enabled='yes' hotpluggable='no'/>", "<vcpu id='1' enabled='yes' hotpluggable='no'/>",
            "<vcpu id='2' enabled='no' hotpluggable='yes'/>", "<vcpu id='3' enabled='no' hotpluggable='yes'/>",
            "</vcpus>",
        ])
    }

    @Test func orderKeptAndLaterEntryWins() throws {
        let d = try DomainDefinition.parse(Self.xml("""
            <vcpu>3</vcpu><vcpus><vcpu id='0' enabled='yes' order='1'/><vcpu id='2' enabled='no'/>\
            <vcpu id='1' enabled='yes' hotpluggable='yes' order='2'/><vcpu id='2' enabled='yes' hotpluggable='yes' order='2'/></vcpus>
            """))
        #expect(Self.vcpuLines(d) == [
            "<vcpu placement='static'>3</vcpu>", "<vcpus>",
            "<vcpu id='0' enabled='yes' hotpluggable='no' order='1'/>",
            "<vcpu id='1' enabled='yes' hotpluggable='yes' order='2'/>",
            "<vcpu id='2' enabled='yes' hotpluggable='yes' order='2'/>", "</vcpus>",
        ])
        // Round trip.
        #expect(try DomainDefinition.parse(d.formatXML()).formatXML() == d.formatXML())
    }

    @Test func noListNoElement() throws {
        let d = try DomainDefinition.parse(Self.xml("<vcpu current='1'>3</vcpu><vcpus/>"))
        #expect(!d.individualVcpus)
        #expect(Self.vcpuLines(d) == ["<vcpu placement='static' current='1'>3</vcpu>"])
        #expect(d.vcpuStates.map(\.enabled) == [true, false, false])
        #expect(d.vcpuStates.map(\.hotpluggable) == [false, true, true])
    }

    @Test(arguments: [
        ("<vcpu>3</vcpu><vcpus><vcpu id='3' enabled='yes'/></vcpus>",
         "XML error: vcpu id '3' is out of range of maximum vcpu count"),
        ("<vcpu>3</vcpu><vcpus><vcpu id='1' hotpluggable='yes'/></vcpus>",
         "XML error: Missing required attribute 'enabled' in element 'vcpu'"),
        ("<vcpu>3</vcpu><vcpus><vcpu enabled='yes'/></vcpus>",
         "XML error: Missing required attribute 'id' in element 'vcpu'"),
        ("<vcpu>3</vcpu><vcpus><vcpu id='x' enabled='yes'/></vcpus>",
         "XML error: Invalid value for attribute 'id' in element 'vcpu': 'x'. Expected non-negative integer value"),
        ("<vcpu>3</vcpu><vcpus><vcpu id='1' enabled='maybe'/></vcpus>",
         "XML error: Invalid value for attribute 'enabled' in element 'vcpu': 'maybe'."),
        ("<vcpu>3</vcpu><vcpus><vcpu id='1' enabled='yes' hotpluggable='x'/></vcpus>",
         "XML error: Invalid value for attribute 'hotpluggable' in element 'vcpu': 'x'."),
        ("<vcpu>3</vcpu><vcpus><vcpu id='1' enabled='yes' order='-1'/></vcpus>",
         "XML error: Invalid value for attribute 'order' in element 'vcpu': '-1'. Expected non-negative integer value"),
        ("<vcpu>3</vcpu><vcpus><vcpu id='0' enabled='yes'/><vcpu id='1' enabled='no' hotpluggable='no'/></vcpus>",
         "unsupported configuration: vcpu '1' is both offline and not hotpluggable"),
    ] as [(String, String)])
    func libvirtErrors(vcpu: String, expected: String) {
        #expect(Self.message(vcpu) == expected)
        #expect(Self.message(vcpu, qemu: true) == expected)
    }

    /// The QEMU driver's own rules (qemuDomainDefVcpusPostParse), checked before the generic defaults: the
    /// generic parser (the test driver's) accepts these.
    @Test(arguments: [
        ("<vcpu id='1' enabled='yes' hotpluggable='yes'/>", "vcpu 0 can't be offline"),
        ("<vcpu id='0' enabled='no' hotpluggable='no'/>", "vcpu 0 can't be offline"),
        ("<vcpu id='0' enabled='yes' hotpluggable='yes'/>", "vcpu0 can't be hotpluggable"),
        ("<vcpu id='0' enabled='yes' order='2'/><vcpu id='1' enabled='yes' order='1'/>", "vcpu0 must be enabled first"),
        ("<vcpu id='0' enabled='yes'/><vcpu id='1' enabled='yes' order='2'/>",
         "all vcpus must have either set or unset order"),
        ("<vcpu id='0' enabled='yes'/><vcpu id='1' enabled='yes' hotpluggable='yes'/><vcpu id='2' enabled='yes' hotpluggable='no'/>",
         "online non-hotpluggable vcpus need to be ordered prior to hotplugable vcpus"),
        ("<vcpu id='0' enabled='yes'/><vcpu id='1' enabled='no' hotpluggable='yes'/><vcpu id='2' enabled='yes' hotpluggable='no'/>",
         "online non-hotpluggable vcpus need to be ordered prior to hotplugable vcpus"),
        ("<vcpu id='0' enabled='yes' order='1'/><vcpu id='1' enabled='no' hotpluggable='no'/><vcpu id='2' enabled='yes'/>",
         "online non-hotpluggable vcpus must be ordered in ascending order"),
    ] as [(String, String)])
    func qemuRules(vcpus: String, expected: String) {
        let vcpu = "<vcpu>4</vcpu><vcpus>\(vcpus)</vcpus>"
        #expect(Self.message(vcpu, qemu: true) == "unsupported configuration: " + expected)
        #expect(Self.message(vcpu) != "unsupported configuration: " + expected)
    }

    @Test func qemuAcceptsOrdersLibvirtAccepts() throws {
        // Non-hotpluggable vCPUs not written as such are not checked; an offline vCPU keeps its order.
        let d = try DomainDefinition.parse(Self.xml("""
            <vcpu>4</vcpu><vcpus><vcpu id='0' enabled='yes' order='1'/><vcpu id='1' enabled='yes' order='3'/>            <vcpu id='2' enabled='yes' order='2'/><vcpu id='3' enabled='no' order='7'/></vcpus>
            """), options: DomainParseOptions(qemuVcpuRules: true))
        #expect(d.vcpuStates.map(\.order) == [1, 3, 2, 7])
        #expect(d.currentVcpus == 3)
    }

    /// `setvcpus N --config` on a definition with `<vcpus>`, with and without `--hotpluggable`, as libvirtd 9.0.
    @Test func countChangesInTheDefinition() throws {
        var d = try DomainDefinition.parse(Self.xml("""
            <vcpu current='2'>4</vcpu><vcpus><vcpu id='0' enabled='yes' order='1'/>\
            <vcpu id='1' enabled='no'/><vcpu id='3' enabled='yes' hotpluggable='yes' order='2'/></vcpus>
            """))
        d.setVcpuCountConfig(3, hotpluggable: false)
        // An online hotpluggable vCPU precedes none of the added one (vCPU 1 comes before 3): not hotpluggable.
        #expect(d.vcpuStates.map(\.enabled) == [true, true, false, true])
        #expect(d.vcpuStates.map(\.hotpluggable) == [false, false, true, true])
        #expect(d.vcpuStates.allSatisfy { $0.order == 0 })
        d.setVcpuCountConfig(4, hotpluggable: false)
        // vCPU 3, online and hotpluggable, precedes nothing; vCPU 2 is added after vCPU 1 (not hotpluggable).
        #expect(d.vcpuStates.map(\.hotpluggable) == [false, false, false, true])
        d.setVcpuCountConfig(1, hotpluggable: false)
        #expect(d.vcpuStates.map(\.enabled) == [true, false, false, false])
        #expect(d.vcpuStates.map(\.hotpluggable) == [false, true, true, true])
        #expect(d.currentVcpus == 1)
        var plain = try DomainDefinition.parse(Self.xml("<vcpu current='1'>4</vcpu>"))
        plain.setVcpuCountConfig(2, hotpluggable: true)
        #expect(plain.individualVcpus)
        #expect(Self.vcpuLines(plain)[2...3] == ["<vcpu id='0' enabled='yes' hotpluggable='no'/>",
                                                 "<vcpu id='1' enabled='yes' hotpluggable='yes'/>"])
        plain.setMaximumVcpus(6)
        #expect(plain.vcpuStates.count == 6 && plain.currentVcpus == 2)
        #expect(Self.vcpuLines(plain).last(where: { $0.hasPrefix("<vcpu id") }) == "<vcpu id='5' enabled='no'/>")
        plain.setMaximumVcpus(1)
        #expect(plain.vcpuStates.count == 1 && plain.currentVcpus == nil)
    }
}
