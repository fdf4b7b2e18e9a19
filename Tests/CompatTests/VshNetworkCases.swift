/// The network command lines of the vsh/virsh differential test (test driver), and their files (in `@DIR@`).
enum VshNetworkCases {
    static let fixtures: [String: String] = [
        "n1.xml": """
            <network>
              <name>net1</name>
              <uuid>5c1f4a2e-0d3b-4a8f-9e6c-7b2d1e0f3a41</uuid>
              <bridge name='virbr5'/>
              <ip address='10.0.0.1' netmask='255.255.255.0'>
                <dhcp>
                  <range start='10.0.0.2' end='10.0.0.100'/>
                  <host mac='52:54:00:00:00:01' name='h1' ip='10.0.0.10'/>
                </dhcp>
              </ip>
            </network>

            """,
        "n2.xml": "<network>\n  <name>net2</name>\n  <uuid>6d2e5b3f-1e4c-4b9a-8f7d-8c3e2f1a4b52</uuid>\n</network>\n",
        "ngen.xml": "<network>\n  <name>ngen</name>\n  <forward mode='bridge'/>\n  <bridge name='br9'/>\n</network>\n",
        "nrouted.xml": """
            <network>
              <name>routed</name>
              <uuid>7e3f6c4a-2f5d-4cab-9a8e-9d4f3a2b5c63</uuid>
              <forward mode='route' dev='eth1'/>
              <mac address='52:54:00:AB:CD:EF'/>
              <dns>
                <txt name='example' value='example value'/>
                <host ip='192.168.130.5'><hostname>h5</hostname></host>
              </dns>
              <ip address='192.168.130.1' prefix='24'>
                <dhcp><range start='192.168.130.2' end='192.168.130.9'/></dhcp>
              </ip>
              <ip family='ipv6' address='2001:db8:ca2:2::1' prefix='64'/>
            </network>

            """,
        "ndupname.xml": "<network><name>default</name><uuid>11111111-2222-3333-4444-555555555555</uuid></network>",
        "ndupuuid.xml": "<network><name>other</name><uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid></network>",
        "nredefine.xml": """
            <network><name>default</name><uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>\
            <bridge name='virbr9'/></network>
            """,
        "nbad.xml": "<network>\n  <name>bad</name>\n  <bogus>\n</network>\n",
        "nnoname.xml": "<network>\n  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>\n</network>\n",
        "nwrongroot.xml": "<domain/>",
        "nforward.xml": """
            <network><name>f</name><forward mode='nat'/></network>
            """,
        "nhost.xml": "<host mac='52:54:00:00:00:44' name='h4' ip='192.168.122.44'/>",
        "netnode.xml": """
            <node>
              <network>
                <name>nodenet</name>
                <uuid>8f4a7d5b-3a6e-4dbc-8b9f-ae5a4b3c6d74</uuid>
                <bridge name='virbr7'/>
                <ip address='10.7.0.1' netmask='255.255.0.0'/>
              </network>
            </node>

            """,
    ]

    static let all: [VshCase] = [
        .line("net-list", "net-list; net-list --all; net-list --inactive; net-list --name; net-list --uuid"),
        .line("net-list-exclusive", "net-list --name --uuid; net-list --table --uuid"),
        .line("net-list-filters",
              "net-define @DIR@/n1.xml; net-create @DIR@/n2.xml; net-list --all; net-list --persistent --all; "
              + "net-list --transient; net-list --inactive --name; net-autostart net1; net-list --all --autostart; "
              + "net-list --all --no-autostart --uuid"),
        VshCase(name: "net-list-quiet", args: ["-q", "-c", "test:///default", "net-list --all; net-define @DIR@/n1.xml"]),
        .line("net-info", "net-info default; net-info dd8fe884-6c02-601e-7551-cca97df1c5df; net-info nosuch; net-info"),
        .line("net-info-no-bridge", "net-create @DIR@/n2.xml; net-info net2"),
        .line("net-dumpxml", "net-dumpxml default; net-dumpxml default --inactive; net-dumpxml nosuch"),
        .line("net-uuid-name",
              "net-uuid default; net-name dd8fe884-6c02-601e-7551-cca97df1c5df; "
              + "net-name 00000000-0000-0000-0000-000000000000; net-name default; net-uuid nosuch"),
        .line("net-lifecycle",
              "net-define @DIR@/n1.xml; net-dumpxml net1; net-info net1; net-start net1; net-start net1; "
              + "net-undefine net1; net-destroy net1; net-destroy net1; net-undefine net1; net-list --all"),
        .line("net-create-destroy", "net-create @DIR@/n2.xml; net-dumpxml net2; net-destroy net2; net-info net2"),
        .line("net-generated-uuid", "net-define @DIR@/ngen.xml; net-dumpxml ngen; net-list --all"),
        .line("net-routed-xml", "net-define @DIR@/nrouted.xml; net-dumpxml routed"),
        .line("net-define-errors",
              "net-define @DIR@/ndupname.xml; net-define @DIR@/ndupuuid.xml; net-create @DIR@/ndupname.xml; "
              + "net-create @DIR@/nredefine.xml; net-define @DIR@/nbad.xml; net-define @DIR@/nnoname.xml; "
              + "net-define @DIR@/nwrongroot.xml; net-define @DIR@/nforward.xml; net-define @DIR@/nosuch.xml; net-define"),
        .line("net-redefine-active",
              "net-define @DIR@/nredefine.xml; net-dumpxml default; net-destroy default; net-dumpxml default; "
              + "net-start default; net-dumpxml default"),
        .line("net-autostart", "net-autostart default; net-info default; net-autostart --disable default; net-info default"),
        .line("net-dhcp-leases", "net-dhcp-leases default; net-dhcp-leases default --mac 52:54:00:00:00:01; net-dhcp-leases x"),
        .line("net-update-dhcp-host",
              "net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:02' name='h2' ip='192.168.122.20'/>\"; "
              + "net-dumpxml default; "
              + "net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:02' name='h2' ip='192.168.122.20'/>\"; "
              + "net-update default modify ip-dhcp-host \"<host mac='52:54:00:00:00:02' name='h3' ip='192.168.122.21'/>\"; "
              + "net-dumpxml default; net-update default add-first ip-dhcp-host @DIR@/nhost.xml --live; net-dumpxml default; "
              + "net-update default delete ip-dhcp-host \"<host mac='52:54:00:00:00:02'/>\"; "
              + "net-update default delete ip-dhcp-host \"<host mac='52:54:00:00:00:09'/>\"; net-dumpxml default"),
        .line("net-update-errors",
              "net-update default add ip-dhcp-host \"<foo/>\"; net-update default bogus ip-dhcp-host \"<host/>\"; "
              + "net-update default add bogus \"<host/>\"; "
              + "net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:07' ip='192.168.122.51'/>\" --parent-index 3; "
              + "net-update default add bridge \"<bridge/>\"; net-update default add ip-dhcp-host \"<host ip='192.168.122.9'/>\"; "
              + "net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:07' ip='10.0.0.1'/>\"; "
              + "net-update default modify ip-dhcp-range \"<range start='192.168.122.2' end='192.168.122.3'/>\"; "
              + "net-update default add ip-dhcp-host '<host' ; net-update default add ip-dhcp-host @DIR@/nosuch.xml; "
              + "net-update default add ip-dhcp-host '<host/>' --current --live"),
        .line("net-update-sections",
              "net-update default add ip-dhcp-range \"<range start='192.168.122.2' end='192.168.122.3'/>\"; "
              + "net-update default add dns-host \"<host ip='1.2.3.4'><hostname>a</hostname></host>\"; "
              + "net-update default add dns-txt \"<txt name='t' value='v'/>\"; net-dumpxml default; "
              + "net-update default delete ip-dhcp-range \"<range start='192.168.122.2' end='192.168.122.3'/>\"; "
              + "net-update default delete dns-host \"<host ip='1.2.3.4'/>\"; net-dumpxml default"),
        .line("net-update-config",
              "net-define @DIR@/n1.xml; net-update net1 add ip-dhcp-host \"<host mac='52:54:00:00:00:03' ip='10.0.0.30'/>\"; "
              + "net-dumpxml net1; net-update net1 add ip-dhcp-host \"<host mac='52:54:00:00:00:04' ip='10.0.0.40'/>\" --live; "
              + "net-create @DIR@/n2.xml; net-update net2 add ip-dhcp-host \"<host mac='52:54:00:00:00:04' ip='10.0.0.40'/>\" --config; "
              + "net-update default add ip-dhcp-host \"<host mac='52:54:00:00:00:05' ip='192.168.122.50'/>\" --config; "
              + "net-dumpxml default; net-destroy default; net-dumpxml default"),
        .line("net-event-list", "net-event --list; net-event; net-event --event bogus"),
        .line("net-event-timeout", "net-event --event lifecycle --timeout 1"),
        VshCase(name: "net-node-file", args: ["-c", "test:///@DIR@/netnode.xml",
                                              "net-list --all; net-dumpxml nodenet; net-info nodenet"]),
        .line("help-network", "help network; help net-list; help net-update; help net-event; help net-dhcp-leases; "
              + "help net-edit; help net-port-list; help net-port-create; help net-port-dumpxml; help net-port-delete"),
        .line("net-port-unsupported",
              "net-port-list default; net-port-create default @DIR@/n2.xml; "
              + "net-port-dumpxml default 11111111-2222-3333-4444-555555555555; "
              + "net-port-delete default 11111111-2222-3333-4444-555555555555"),
        VshCase(name: "net-edit-unchanged", args: ["-c", "test:///default", "net-edit default; net-edit nosuch"],
                environment: ["EDITOR": "true"]),
        VshCase(name: "net-edit-changed",
                args: ["-c", "test:///default", "net-edit default; net-dumpxml default; net-destroy default; net-dumpxml default"],
                environment: ["EDITOR": "sed -i s/virbr0/virbr8/"]),
        VshCase(name: "net-edit-transient",
                args: ["-c", "test:///default", "net-create @DIR@/n2.xml; net-edit net2; net-list --all"],
                environment: ["EDITOR": "sed -i s/net2/net3/"]),
    ]
}
