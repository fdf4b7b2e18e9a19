import Testing
@testable import VirtCore

/// Unit tests of the domain XML model: units, escaping, errors, metadata, UUIDs, validation.
/// Expected strings were observed with libvirt 9.0 (`virsh -c test:///default define; dumpxml --inactive`).
@Suite struct DomainXMLTests {
    static func domain(_ body: String, type: String = "test") -> String {
        "<domain type='\(type)'><name>t</name>\(body)</domain>"
    }

    static func parse(_ body: String) throws -> DomainDefinition {
        var d = try DomainDefinition.parse(domain(body))
        d.applyDefaults(for: .test)
        return d
    }

    static func error(_ xml: String, validate: Bool = false) -> VirtError? {
        do {
            _ = try DomainDefinition.parse(xml, options: DomainParseOptions(validate: validate))
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        ("b", 1025, 2), ("bytes", 2048, 2), ("byte", 1, 1), ("KB", 1000, 977), ("k", 7, 7), ("KiB", 7, 7),
        ("kib", 7, 7), ("MB", 1, 977), ("M", 1, 1024), ("MiB", 2, 2048), ("mb", 3, 2930), ("GB", 1, 976563),
        ("G", 1, 1_048_576), ("GiB", 1, 1_048_576), ("TB", 1, 976_562_500), ("T", 1, 1_073_741_824),
        ("TiB", 1, 1_073_741_824), ("PB", 1, 976_562_500_000), ("P", 1, 1_099_511_627_776),
        ("PiB", 1, 1_099_511_627_776), ("EB", 1, 976_562_500_000_000), ("E", 1, 1_125_899_906_842_624),
        ("EiB", 1, 1_125_899_906_842_624), ("", 5, 5),
    ] as [(String, UInt64, UInt64)])
    func memoryUnitsNormaliseToKiB(unit: String, value: UInt64, kib: UInt64) throws {
        #expect(try MemoryUnit.kibibytes(value, unit: unit) == kib)
    }

    @Test func memoryIsWrittenInKiB() throws {
        let d = try Self.parse("<memory unit='GiB'>1</memory><currentMemory unit='MiB'>512</currentMemory>"
            + "<os><type>hvm</type></os>")
        let xml = d.formatXML()
        #expect(xml.contains("  <memory unit='KiB'>1048576</memory>\n"))
        #expect(xml.contains("  <currentMemory unit='KiB'>524288</currentMemory>\n"))
    }

    @Test func unitErrorsAreLibvirts() {
        let bad = Self.error(Self.domain("<memory unit='XB'>1024</memory><os><type>hvm</type></os>"))
        #expect(bad?.code == .invalidArg)
        #expect(bad?.message == "invalid argument: unknown suffix 'XB'")
        let over = Self.error(Self.domain("<memory unit='EiB'>100</memory><os><type>hvm</type></os>"))
        #expect(over?.code == .overflow)
        #expect(over?.message == "numerical overflow: value too large: 100EiB")
        let notNumber = Self.error(Self.domain("<memory>abc</memory><os><type>hvm</type></os>"))
        #expect(notNumber?.code == .xmlError)
        #expect(notNumber?.domain == .xml)
        #expect(notNumber?.message == "XML error: Invalid value 'abc' for element or attribute './memory[1]'")
        let none = Self.error(Self.domain("<os><type>hvm</type></os>"))
        #expect(none?.message
            == "XML error: Memory size must be specified via <memory> or in the <numa> configuration")
    }

    @Test func escapingMatchesLibvirt() throws {
        let d = try Self.parse("<title>T é &lt;x&gt; \"q\" 'a' &amp;</title><memory>1024</memory>"
            + "<os><type>hvm</type><cmdline>a&amp;b</cmdline></os>")
        let xml = d.formatXML()
        #expect(xml.contains("  <title>T é &lt;x&gt; &quot;q&quot; &apos;a&apos; &amp;</title>\n"))
        #expect(xml.contains("    <cmdline>a&amp;b</cmdline>\n"))
    }

    @Test func malformedXMLNamesLineAndColumn() {
        let e = Self.error("<domain type='test'>\n  <name>a</nam>\n</domain>")
        #expect(e?.code == .xmlDetail)
        #expect(e?.domain == .domain)
        #expect(e?.message == "(domain_definition):2: Opening and ending tag mismatch: name line 2 and nam\n"
            + "  <name>a</nam>\n---------------^")
        #expect(e?.int1 == 2)
        #expect(e?.int2 == 16)
        let empty = Self.error("")
        #expect(empty?.message == "(domain_definition):1: Document is empty\n(null)\n^")
    }

    @Test func missingAndInvalidValuesUseLibvirtCodes() {
        let noName = Self.error("<domain type='test'><memory>1024</memory></domain>")
        #expect(noName?.code == .noName)
        #expect(noName?.message == "missing name information")
        let noType = Self.error("<domain><name>a</name><memory>1024</memory><os><type>hvm</type></os></domain>")
        #expect(noType?.code == .internalError)
        #expect(noType?.message == "internal error: missing domain type attribute")
        let noOS = Self.error(Self.domain("<memory>1024</memory>"))
        #expect(noOS?.code == .xmlError)
        #expect(noOS?.message == "XML error: an os <type> must be specified")
        let root = Self.error("<foo/>")
        #expect(root?.message == "XML error: expecting root element of 'domain', not 'foo'")
        let boot = Self.error(Self.domain("<memory>1024</memory><os><type>hvm</type><boot dev='foo'/></os>"))
        #expect(boot?.message == "XML error: Invalid value for attribute 'dev' in element 'boot': 'foo'.")
        let action = Self.error(Self.domain("<memory>1024</memory><os><type>hvm</type></os>"
            + "<on_poweroff>foo</on_poweroff>"))
        #expect(action?.code == .configUnsupported)
        #expect(action?.message == "unsupported configuration: unknown on_poweroff action: foo")
        let cur = Self.error(Self.domain("<memory>1024</memory><vcpu current='x'>2</vcpu><os><type>hvm</type></os>"))
        #expect(cur?.message == "XML error: Invalid value for attribute 'current' in element 'vcpu': 'x'. "
            + "Expected non-negative integer value")
        let uuid = Self.error(Self.domain("<uuid>123</uuid><memory>1024</memory><os><type>hvm</type></os>"))
        #expect(uuid?.message == "internal error: malformed uuid element")
    }

    @Test func metadataIsKeptVerbatim() throws {
        let d = try Self.parse("""
            <memory>1024</memory>
            <metadata>
              <app1:foo xmlns:app1="http://app1.org/app1/" a="x'y">fooish <b>bold</b></app1:foo>
              <app2:bar xmlns:app2="http://app1.org/app2/"><x/>
                 <y>t&amp;</y></app2:bar>
              <nons/>
            </metadata>
            <os><type>hvm</type></os>
            """)
        #expect(d.formatXML().contains("""
              <metadata>
                <app1:foo xmlns:app1="http://app1.org/app1/" a="x'y">fooish <b>bold</b></app1:foo>
                <app2:bar xmlns:app2="http://app1.org/app2/">
                  <x/>
                  <y>t&amp;</y>
                </app2:bar>
              </metadata>

            """))
    }

    @Test func uuidIsGeneratedWhenAbsent() throws {
        let a = try Self.parse("<memory>1024</memory><os><type>hvm</type></os>")
        let b = try Self.parse("<memory>1024</memory><os><type>hvm</type></os>")
        #expect(a.uuid != b.uuid)
        #expect(VirtUUID(string: a.uuid.description) == a.uuid)
        let c = try Self.parse("<uuid>C7A5FDBD-EDAF-9455-926A-D65C16DB1809</uuid><memory>1024</memory>"
            + "<os><type>hvm</type></os>")
        #expect(c.formatXML().contains("<uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>"))
    }

    @Test func cpusetIsNormalised() throws {
        #expect(try CPUSet(parsing: "0,1,2,3,7,^2").description == "0-1,3,7")
        #expect(try CPUSet(parsing: "1-4,8-20,525").description == "1-4,8-20,525")
        #expect(throws: VirtError.self) { try CPUSet(parsing: "a") }
    }

    @Test func postParseDefaults() throws {
        let d = try Self.parse("<memory>1024</memory><os><type>hvm</type></os>")
        let xml = d.formatXML()
        #expect(xml.contains("  <currentMemory unit='KiB'>1024</currentMemory>\n"))
        #expect(xml.contains("  <vcpu placement='static'>1</vcpu>\n"))
        #expect(xml.contains("    <type arch='i686'>hvm</type>\n    <boot dev='hd'/>\n"))
        #expect(xml.contains("  <clock offset='utc'/>\n  <on_poweroff>destroy</on_poweroff>\n"
            + "  <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n"))
    }

    @Test func validateRejectsUnknownElementsAndAttributes() {
        let xml = Self.domain("<memory>1024</memory><os><type>hvm</type></os><bogus/>")
        #expect(Self.error(xml) == nil)
        let e = Self.error(xml, validate: true)
        #expect(e?.code == .xmlInvalidSchema)
        #expect(e?.message == "XML document failed to validate against schema: Unable to validate doc against "
            + "/usr/share/libvirt/schemas/domain.rng\nElement domain has extra content: bogus\n")
        let attr = Self.error(Self.domain("<memory>1024</memory><os foo='1'><type>hvm</type></os>"), validate: true)
        #expect(attr?.message.contains("\nInvalid attribute foo for element os\n") == true)
    }

    @Test func formatParseRoundTripIsStable() throws {
        let d = try Self.parse("<memory unit='MiB'>64</memory><vcpu current='1'>2</vcpu>"
            + "<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='cdrom'/></os>"
            + "<features><acpi/><apic/></features><cpu mode='host-model'/>")
        let once = d.formatXML()
        var again = try DomainDefinition.parse(once)
        again.applyDefaults(for: .test)
        #expect(again.formatXML() == once)
    }
}

extension DomainXMLTests {
    @Test func typedTuningValues() throws {
        var d = try Self.parse("<memory>1048576</memory><vcpu>2</vcpu><memtune><hard_limit unit='G'>1</hard_limit>"
            + "</memtune><memoryBacking><hugepages><page size='2' unit='M'/></hugepages></memoryBacking>"
            + "<cputune><vcpupin vcpu='1' cpuset='0,1'/><shares>10</shares></cputune>"
            + "<os><type>hvm</type></os>")
        #expect(d.memtune?.hardLimit == 1_048_576)
        #expect(d.memoryBacking?.pages.first?.size == 2048)
        #expect(d.cputune?.shares == 10)
        #expect(d.cputune?.vcpuPins.first?.cpuset.description == "0-1")
        var nt = NUMATune()
        nt.mode = "strict"
        nt.nodeset = try CPUSet(parsing: "0")
        d.numatune = nt
        d.iothreadIDs = [IOThreadID(id: 1)]
        d.iothreads = 1
        let xml = d.formatXML()
        #expect(xml.contains("  <iothreads>1</iothreads>\n  <iothreadids>\n    <iothread id='1'/>\n  </iothreadids>\n"
            + "  <cputune>\n    <shares>10</shares>\n    <vcpupin vcpu='1' cpuset='0-1'/>\n  </cputune>\n"
            + "  <numatune>\n    <memory mode='strict' nodeset='0'/>\n  </numatune>\n"))
    }
}

extension DomainXMLTests {
    /// Without the test driver's defaults, hypervisor namespace data is kept and written last, with only its own
    /// namespace declared on `<domain>` (as the QEMU driver writes `<qemu:commandline>`).
    @Test func namespaceElementsAreKeptForOtherDrivers() throws {
        let d = try DomainDefinition.parse("""
            <domain type='kvm' xmlns:app="http://app.org/" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">
              <name>n</name>
              <metadata><app:x/></metadata>
              <memory>1024</memory>
              <os><type arch='x86_64'>hvm</type></os>
              <qemu:commandline><qemu:arg value="-foo"/></qemu:commandline>
            </domain>
            """)
        let xml = d.formatXML()
        #expect(xml.hasPrefix("<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"))
        #expect(xml.hasSuffix("  <qemu:commandline>\n    <qemu:arg value='-foo'/>\n  </qemu:commandline>\n</domain>\n"))
        var t = d
        t.applyDefaults(for: .test)
        #expect(!t.formatXML().contains("qemu"))
    }
}
