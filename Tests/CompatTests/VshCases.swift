/// The command lines of the vsh/virsh differential test, and the files they use (in `@DIR@`).
enum VshCases {
    static let fixtures: [String: String] = domainFixtures.merging(VshNetworkCases.fixtures) { a, _ in a }
        .merging(StorageVshCases.fixtures) { a, _ in a }.merging(bandwidthFixtures) { a, _ in a }
        .merging(VshEditDisplayCases.fixtures) { a, _ in a }.merging(VshDiagnosticsCases.fixtures) { a, _ in a }
        .merging(VshVcpuIOThreadCases.fixtures) { a, _ in a }
        .merging(VshHostControlCases.fixtures) { a, _ in a }
        .merging(VshNodeDeviceLifecycleCases.fixtures) { a, _ in a }

    /// Domains whose interfaces carry `<bandwidth>` variants (libvirt's parse checks, its formatting).
    static let bandwidthFixtures: [String: String] = {
        let variants: [(String, String, String)] = [
            ("bw-ok", "network", "<bandwidth><foo/><inbound average=' 7' floor='+3' burst='9' peak='8'/><outbound average='5' peak='0'/></bandwidth>"),
            ("bw-empty", "network", "<bandwidth/>"),
            ("bw-zero", "bridge", "<bandwidth><inbound average='0'/></bandwidth>"),
            ("bw-floor-bridge", "bridge", "<bandwidth><inbound floor='9'/></bandwidth>"),
            ("bw-floor-out", "network", "<bandwidth><outbound average='1' floor='2'/></bandwidth>"),
            ("bw-classid", "network", "<bandwidth classID='3'><inbound average='1'/></bandwidth>"),
            ("bw-missing", "network", "<bandwidth><inbound peak='5'/></bandwidth>"),
            ("bw-peak-floor", "network", "<bandwidth><inbound floor='5' burst='3'/></bandwidth>"),
            ("bw-dup", "network", "<bandwidth><outbound average='1'/><outbound average='2'/></bandwidth>"),
            ("bw-bad", "bridge", "<bandwidth><inbound average='1' burst='-1'/></bandwidth>"),
        ]
        var out: [String: String] = [:]
        for (i, (name, type, bw)) in variants.enumerated() {
            let source = type == "network" ? "<source network='default'/>" : "<source bridge='br0'/>"
            out[name + ".xml"] = "<domain type='test'><name>\(name)</name>"
                + "<uuid>33333333-2222-3333-4444-5555555555\(10 + i)</uuid><memory>1048576</memory>"
                + "<os><type>hvm</type></os><devices><interface type='\(type)'><mac address='52:54:00:00:00:\(10 + i)'/>"
                + source + bw + "</interface></devices></domain>\n"
        }
        return out
    }()

    static let domainFixtures: [String: String] = [
        "hpdisk.xml": "<disk type='file' device='disk'><source file='/tmp/x.img'/><target dev='vdb' bus='virtio'/></disk>\n",
        "d1.xml": """
            <domain type='test'>
              <name>d1</name>
              <uuid>11111111-2222-3333-4444-555555555555</uuid>
              <memory>1048576</memory>
              <os><type>hvm</type></os>
            </domain>

            """,
        "d2.xml": """
            <domain type='test'>
              <name>D2</name>
              <uuid>22222222-2222-3333-4444-555555555555</uuid>
              <memory unit='MiB'>512</memory>
              <currentMemory unit='MiB'>256</currentMemory>
              <vcpu>3</vcpu>
              <os><type>hvm</type></os>
            </domain>

            """,
        "gen.xml": """
            <domain type='test'>
              <name>gen</name>
              <memory>524288</memory>
              <os><type>hvm</type></os>
            </domain>

            """,
        "unicode.xml": """
            <domain type='test'>
              <name>dé-ü</name>
              <uuid>33333333-2222-3333-4444-555555555555</uuid>
              <memory>524288</memory>
              <os><type>hvm</type></os>
            </domain>

            """,
        "title.xml": """
            <domain type='test'>
              <name>titled</name>
              <uuid>44444444-2222-3333-4444-555555555555</uuid>
              <title>My VM</title>
              <memory>524288</memory>
              <os><type>hvm</type></os>
            </domain>

            """,
        "stats.xml": """
            <domain type='test'>
              <name>st</name>
              <uuid>55555555-2222-3333-4444-555555555555</uuid>
              <memory unit='KiB'>524288</memory>
              <currentMemory unit='KiB'>100000</currentMemory>
              <vcpu current='2'>3</vcpu>
              <os><type>hvm</type></os>
              <devices>
                <disk type='file' device='disk'><source file='/tmp/st.img'/><target dev='sdb' bus='scsi'/></disk>
                <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
                <disk type='block' device='disk'><source dev='/dev/null'/><target dev='vdb' bus='virtio'/></disk>
                <interface type='user'><mac address='52:54:00:11:22:33'/><model type='virtio'/></interface>
                <interface type='bridge'><mac address='52:54:00:11:22:34'/><source bridge='br0'/></interface>
              </devices>
            </domain>

            """,
        "bad.xml": "<domain type='test'>\n  <name>bad\n",
        "node.xml": """
            <node>
              <cpu><mhz>6000</mhz><model>i986</model><active>50</active><nodes>4</nodes><sockets>4</sockets>
              <cores>4</cores><threads>2</threads></cpu>
              <memory>8192000</memory>
            </node>

            """,
        "noname.xml": "<domain type='test'>\n  <memory>1024</memory>\n  <os><type>hvm</type></os>\n</domain>\n",
        "test.xml": """
            <domain type='test'>
              <name>test</name>
              <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
              <memory>8388608</memory>
              <currentMemory>2097152</currentMemory>
              <vcpu>2</vcpu>
              <os><type>hvm</type></os>
            </domain>

            """,
    ]

    /// Cases whose output depends on the domain XML formatter.
    static let xml: [VshCase] = [
        .line("dumpxml", "dumpxml test"),
        .line("dumpxml-inactive", "dumpxml test --inactive"),
        .line("dumpxml-security-info", "dumpxml --security-info test"),
        .line("dumpxml-defined", "define @DIR@/d1.xml; dumpxml d1; dumpxml d1 --inactive"),
        .line("dumpxml-by-id-uuid", "dumpxml 1; dumpxml 6695eb01-f6a4-8304-79aa-97f2502e193f"),
        .line("dumpxml-unknown", "dumpxml nosuch"),
    ]

    static let all: [VshCase] = [
        // list
        .line("list", "list"),
        .line("list-all", "list --all"),
        .line("list-inactive-empty", "list --inactive"),
        .line("list-name", "list --name"),
        .line("list-uuid", "list --uuid"),
        .line("list-all-name-uuid", "list --all --name --uuid"),
        .line("list-id", "define @DIR@/d1.xml; list --id; list --all --id; list --id --name --all"),
        .line("list-table-name", "list --table --name"),
        .line("list-table-uuid", "list --table --uuid"),
        .line("list-state-running", "list --state-running"),
        .line("list-state-shutoff", "list --state-shutoff"),
        .line("list-state-paused", "suspend test; list --state-paused; list --state-running"),
        .line("list-persistent-transient",
              "create @DIR@/d1.xml; list --persistent; list --transient; list --all --transient --name"),
        .line("list-autostart",
              "define @DIR@/d1.xml; autostart d1; list --autostart --all; list --no-autostart --all; list --autostart"),
        .line("list-sorting",
              "define @DIR@/d2.xml; define @DIR@/d1.xml; create @DIR@/gen.xml; list --all; list --all --name"),
        .line("list-managed-save", "managedsave test; list --all --managed-save; list --all --with-managed-save"),
        .line("list-unicode-name", "define @DIR@/unicode.xml; list --all; list --all --name"),
        .line("list-title", "list --title"),
        .line("list-title-set", "define @DIR@/title.xml; list --all --title; list --title --all --name"),
        .line("list-unknown-option", "list --bogus"),
        .line("list-bool-with-value", "list --all=yes"),
        VshCase(name: "list-quiet", args: ["-q", "-c", "test:///default", "list --all; define @DIR@/d1.xml; list --all"]),
        VshCase(name: "list-argv", args: ["-c", "test:///default", "list", "--all"]),
        VshCase(name: "list-argv-semicolon", args: ["-c", "test:///default", "list", ";", "uri"]),

        // dominfo, domstate, ids
        .line("dominfo", "dominfo test"),
        .line("dominfo-by-id", "dominfo 1"),
        .line("dominfo-by-uuid", "dominfo 6695eb01-f6a4-8304-79aa-97f2502e193f"),
        .line("dominfo-inactive", "define @DIR@/d2.xml; dominfo D2; autostart D2; dominfo D2"),
        .line("dominfo-unknown", "dominfo nosuch"),
        .line("dominfo-missing-arg", "dominfo"),
        .line("domstate", "domstate test; domstate test --reason; domstate --reason test"),
        .line("domstate-transitions",
              "suspend test; domstate test --reason; resume test; domstate test --reason; destroy test; domstate test --reason; start test; domstate test --reason; shutdown test; domstate test --reason"),
        .line("domid-domname-domuuid",
              "domid test; domid 6695eb01-f6a4-8304-79aa-97f2502e193f; domname 1; domname 6695eb01-f6a4-8304-79aa-97f2502e193f; domuuid test; domuuid 1"),
        .line("domid-inactive", "define @DIR@/d1.xml; domid d1"),
        .line("ids-wrong-kind", "domid 1; domname test; domuuid 6695eb01f6a4830479aa97f2502e193f"),
        .line("domid-empty", "domid ''"),

        // define, undefine, create
        .line("define", "define @DIR@/d1.xml; list --all; dominfo d1"),
        .line("define-validate", "define --validate @DIR@/d1.xml"),
        .line("define-file-option", "define --file @DIR@/d1.xml"),
        .line("define-missing-file", "define @DIR@/nosuch.xml"),
        .line("define-malformed", "define @DIR@/bad.xml"),
        .line("define-no-name", "define @DIR@/noname.xml"),
        .line("define-redefine-running", "define @DIR@/test.xml; list --all"),
        .line("define-generated-uuid", "define @DIR@/gen.xml; dominfo gen; domuuid gen"),
        .line("undefine", "define @DIR@/d1.xml; undefine d1; list --all"),
        .line("undefine-running", "undefine test; list --all; dominfo test; destroy test; list --all"),
        .line("undefine-unknown", "undefine nosuch"),
        .line("undefine-managed-save",
              "managedsave test; undefine test; undefine test --managed-save; list --all"),
        .line("undefine-nvram-exclusive", "undefine test --nvram --keep-nvram"),
        .line("undefine-tpm", "destroy test; undefine test --tpm; list --all"),
        .line("undefine-keep-tpm", "destroy test; undefine --keep-tpm test"),
        .line("create", "create @DIR@/d1.xml; list --all; dominfo d1; destroy d1; list --all"),
        .line("create-paused", "create @DIR@/d1.xml --paused; domstate d1 --reason"),
        .line("create-existing", "create @DIR@/test.xml"),
        .line("create-missing-file", "create @DIR@/nosuch.xml"),

        // lifecycle
        .line("start-running", "start test"),
        .line("start", "destroy test; start test; list"),
        .line("start-paused", "define @DIR@/d1.xml; start d1 --paused; domstate d1 --reason"),
        .line("start-by-id", "start 1"),
        .line("start-unknown", "start nosuch"),
        .line("shutdown", "shutdown test; domstate test --reason; shutdown test"),
        .line("shutdown-mode", "shutdown test --mode acpi"),
        .line("shutdown-bad-mode", "shutdown test --mode foo"),
        .line("reboot", "reboot test; domstate test --reason"),
        .line("destroy", "destroy test; destroy test; domstate test --reason"),
        .line("destroy-graceful", "destroy test --graceful"),
        .line("suspend-resume",
              "suspend test; suspend test; domstate test --reason; resume test; resume test; domstate test"),
        .line("lifecycle-names-as-given",
              "suspend 1; resume 6695eb01-f6a4-8304-79aa-97f2502e193f; autostart 1; reboot 1; shutdown 1"),
        .line("lifecycle-inactive-errors",
              "destroy test; suspend test; resume test; shutdown test; reboot test; destroy test"),
        .line("reset", "reset test; domstate test --reason"),
        .line("start-force-boot", "managedsave test; start test --force-boot; domstate test --reason; dominfo test"),
        .line("start-from-managed-save", "managedsave test; start test; domstate test --reason"),
        .line("shutdown-multi-mode", "shutdown test --mode acpi,agent"),
        .line("domstate-unknown", "domstate nosuch --reason"),
        .line("create-validate", "create --validate @DIR@/d1.xml; list"),
        .line("undefine-by-uuid", "define @DIR@/d1.xml; undefine 11111111-2222-3333-4444-555555555555; list --all"),
        VshCase(name: "argv-with-space", args: ["-c", "test:///default", "domid", "te st"]),
        VshCase(name: "argv-comment", args: ["-c", "test:///default", "#", "domid", "test"]),

        // save, restore, managed save
        .line("save-restore",
              "save test @DIR@/test.save; list --all; domstate test --reason; restore @DIR@/test.save; list; domstate test --reason"),
        .line("save-paused", "save test @DIR@/t.save --paused; restore @DIR@/t.save; domstate test --reason"),
        .line("save-inactive", "destroy test; save test @DIR@/x.save"),
        .line("restore-missing", "restore @DIR@/nosuch.save"),
        .line("managedsave",
              "managedsave test; list --all; dominfo test; domstate test --reason; start test; domstate test --reason"),
        .line("managedsave-remove",
              "managedsave test; managedsave-remove test; managedsave-remove test; dominfo test"),
        .line("managedsave-inactive", "destroy test; managedsave test"),

        // autostart
        .line("autostart", "autostart test; dominfo test; autostart --disable test; dominfo test"),
        .line("autostart-transient", "create @DIR@/d1.xml; autostart d1"),

        // event (test:///default state is per process, so only the waiting itself can be compared)
        .line("event-list", "event --list"),
        .line("event-timeout", "event --all --timeout 1"),
        .line("event-lifecycle-timeout", "event --event lifecycle --timeout 1 --loop"),
        .line("event-domain-timeout", "event test --all --timeout 1"),
        .line("event-positional", "event test lifecycle 1"),
        .line("event-unknown-domain", "event nosuch --all --timeout 1"),
        .line("event-unknown-type", "event --event foo --timeout 1"),
        .line("event-missing-type", "event --timeout 1"),
        .line("event-exclusive", "event --all --event lifecycle"),
        .line("event-list-exclusive", "event --list --all"),
        .line("event-bad-timeout", "event --all --timeout 0; event --all --timeout abc"),
        .line("event-negative-timeout", "event --all --timeout -1"),

        // host
        .line("version", "version"),
        .line("version-daemon", "version --daemon"),
        .line("uri", "uri"),
        .line("hostname", "hostname"),
        .line("nodeinfo", "nodeinfo"),
        .line("nodecpumap", "nodecpumap; nodecpumap --pretty"),
        .line("nodecpustats", "nodecpustats; nodecpustats --cpu 5; nodecpustats --cpu -1"),
        .line("nodecpustats-bad-cpu", "nodecpustats --cpu -2; nodecpustats --cpu abc"),
        .line("nodecpustats-percent", "nodecpustats --percent"),
        .line("nodememstats-unsupported", "nodememstats; nodememstats --cell -2"),
        .line("freecell", "freecell; freecell --all; freecell --cellno 1"),
        .line("freecell-bad-cell", "freecell --cellno 2; freecell --cellno -1; freecell --cellno x"),
        .line("freecell-exclusive", "freecell --all --cellno 0"),
        VshCase(name: "freecell-node-file", args: ["-c", "test:///@DIR@/node.xml",
                                                   "freecell; freecell --all; freecell --cellno 0; nodecpumap"]),
        VshCase(name: "freecell-quiet", args: ["-q", "-c", "test:///default", "freecell --all"]),
        .line("sysinfo", "sysinfo"),
        .line("node-memory-tune-unsupported", "node-memory-tune; node-memory-tune --shm-pages-to-scan 5"),
        .line("node-memory-tune-bad-value", "node-memory-tune --shm-sleep-millisecs -x"),
        .line("cpu-models", "cpu-models x86_64; cpu-models i686; cpu-models ppc64"),
        .line("cpu-models-any", "cpu-models aarch64; cpu-models s390x"),
        VshCase(name: "cpu-models-any-quiet", args: ["-q", "-c", "test:///default", "cpu-models armv7l"]),
        .line("cpu-models-errors", "cpu-models riscv64; cpu-models loongarch64; cpu-models nosuch; cpu-models"),
        .line("help-host-stats", "help nodecpustats; help freecell; help node-memory-tune; help cpu-models"),
        .line("capabilities", "capabilities"),
        .line("domcapabilities", "domcapabilities"),
        .line("domcapabilities-empty-arch", "domcapabilities --arch ''"),
        .line("ttyconsole-no-console", "ttyconsole test"),
        .line("ttyconsole-no-domain", "ttyconsole nosuch"),
        .line("ttyconsole-missing-arg", "ttyconsole"),
        .line("help-ttyconsole", "help ttyconsole"),
        .line("help-domcapabilities", "help domcapabilities"),
        .line("help-qemu-monitor-command", "help qemu-monitor-command"),
.line("help-groups-in-virsh-order", ["domain", "monitor", "events", "host", "checkpoint", "interface", "network",
                                             "nodedev", "secret", "snapshot", "backup", "pool", "volume", "virsh"]
              .map { "help \($0)" }.joined(separator: "; ")),
        .line("nwfilter-test-driver", "nwfilter-list; nwfilter-dumpxml x; nwfilter-undefine x; nwfilter-binding-list; "
              + "nwfilter-binding-dumpxml x; nwfilter-binding-delete x; nwfilter-edit x; "
              + "nwfilter-dumpxml 5b1e9d2c-3b4f-4c5d-8e6f-102132435465; nwfilter-define; nwfilter-define /nonexistent.xml; "
              + "help filter; help nwfilter-binding-create"),
        .line("help-filter-group", "help filter"),
        .line("backup-test-driver", "backup-begin test; backup-dumpxml test; backup-begin nope; backup-dumpxml nope; "
              + "backup-begin test --backupxml /nonexistent.xml; help backup-begin; help backup-dumpxml"),
        .line("fd-passing-test-driver", "qemu-monitor-command test --pass-fds 0 '{\"execute\":\"query-status\"}'; "
              + "qemu-monitor-command test --pass-fds 0,x query-status; dom-fd-associate test g 0; "
              + "dom-fd-associate test g 0,; dom-fd-associate nope g 0; help dom-fd-associate"),
        .line("qemu-attach", "qemu-attach 1; qemu-attach x; qemu-attach; qemu-attach -- -1; help qemu-attach"),
        .line("lxc-enter-namespace", "lxc-enter-namespace test -- /bin/true; lxc-enter-namespace nope /bin/true; "
              + "lxc-enter-namespace test; lxc-enter-namespace test --noseclabel /bin/true; help lxc-enter-namespace"),
        .line("snapshot-tree", "snapshot-create-as test s1; snapshot-create-as test s2; suspend test; "
              + "snapshot-create-as test s3 --halt; snapshot-list test --tree; snapshot-list test --name --topological; "
              + "snapshot-info test s2; snapshot-revert test s1 --paused; domstate test --reason; "
              + "snapshot-delete test s2; snapshot-parent test s3; snapshot-current test --name; "
              + "snapshot-delete test s1 --children; snapshot-list test --name; snapshot-current test"),
        .line("checkpoint-basics", "checkpoint-create-as test c1; checkpoint-create-as test c2; checkpoint-list test --tree; "
              + "checkpoint-info test c2; checkpoint-delete test c1 --children-only; checkpoint-list test --name; "
              + "checkpoint-parent test c1; checkpoint-create-as test --print-xml --name n --description '<d>'"),
        .line("snapshot-errors", "snapshot-info test; snapshot-dumpxml test nope; snapshot-current test; "
              + "snapshot-revert test nope; snapshot-create-as test x --no-metadata; snapshot-list nosuch; "
              + "snapshot-create-as test --print-xml --name n --description '<d>'"),
        .line("help-snapshot", "help snapshot-list; help snapshot-create-as; help checkpoint-list"),
        .line("qemu-monitor-command-test-driver", "qemu-monitor-command test query-status; qemu-monitor-command test --hmp --pretty x"),
        VshCase(name: "uri-from-environment", args: ["uri"], environment: ["LIBVIRT_DEFAULT_URI": "test:///default"]),
        VshCase(name: "uri-from-virsh-environment", args: ["uri"],
                environment: ["VIRSH_DEFAULT_CONNECT_URI": "test:///default"]),

        // shell syntax
        .line("several-commands", "domid test; domstate test;uri"),
        .line("empty-commands", "  ; ; domid test ;;"),
        .line("comment", "# comment; domid test"),
        VshCase(name: "empty-string", args: ["-c", "test:///default", ""]),
        .line("trailing-comment", "domid test # comment"),
        .line("quotes", "domid \"te\"st; domid 'te''st'; domid \"te'st\""),
        .line("unbalanced-single-quote", "domid 'test"),
        .line("unbalanced-double-quote", "domid \"test"),
        .line("dangling-backslash", "domid test\\"),
        .line("backslash-escape", "domid te\\st"),
        .line("unknown-command", "foo; domid test"),
        .line("unknown-command-later", "domid test; foo"),
        .line("missing-required", "domid"),
        .line("unknown-option", "domid --foo"),
        .line("unexpected-data", "domid a b"),
        .line("option-equals", "domid --domain=test"),
        .line("option-missing-value", "domid --domain"),
        .line("bool-equals", "domstate --reason=1 test"),
        .line("double-dash", "domstate -- --reason"),
        .line("double-dash-after-option", "domstate --reason -- test"),
        .line("option-repeated", "domstate test --domain test"),
        .line("exit-status-last-command", "domid x; domid test"),
        .line("exit-status-failed-last", "domid test; domid x"),
        .line("errors-keep-going", "start test; destroy test; destroy test; uri"),
        .line("help-option", "domid --help"),
        .line("help-command", "help domid; help list; help start; help uri; help event; help undefine"),
        .line("help-more", "help save; help restore; help managedsave; help dumpxml; help version; help help"),
        .line("help-unknown", "help foo"),
        .line("help-secret", "help secret-define; help secret-dumpxml; help secret-event; help secret-get-value; "
              + "help secret-list; help secret-set-value; help secret-undefine"),
        // The test driver has no secret driver: virsh's fallbacks and libvirt's NO_SUPPORT words.
        .line("secret-no-driver", "secret-list; secret-list --private; secret-dumpxml 11111111-2222-3333-4444-555555555555; "
              + "secret-undefine nosuch; secret-event --list; secret-event; secret-get-value"),
        .line("quit", "domid test; quit; domid test"),

        // global options
        VshCase(name: "quiet", args: ["-q", "-c", "test:///default", "destroy test; start test; domid test; version"]),
        VshCase(name: "readonly", args: ["-r", "-c", "test:///default", "destroy test; list"]),
        VshCase(name: "connect-equals", args: ["--connect=test:///default", "list --name"]),
        VshCase(name: "connect-attached", args: ["-ctest:///default", "list --name"]),
        VshCase(name: "connect-missing-arg", args: ["-c"]),
        VshCase(name: "unknown-short-option", args: ["-c", "test:///default", "-z", "list"]),
        VshCase(name: "unknown-long-option", args: ["--foo"]),
        VshCase(name: "version-flag", args: ["--version"]),
        VshCase(name: "version-short", args: ["-v"]),
        VshCase(name: "double-dash-global", args: ["-c", "test:///default", "--", "uri"]),
    ] + xml + migration + stats + VshNetworkCases.all
        + StorageVshCases.all + VshEditDisplayCases.all + VshDiagnosticsCases.all + VshVcpuIOThreadCases.all
        + VshHostControlCases.all
        + VshBlockCases.all + VshNodeDeviceLifecycleCases.all

    /// Statistics and pinning (issue 11): the test driver's made-up counters are normalised.
    static let stats: [VshCase] = [
        .line("domblkstat", "domblkstat test vda; domblkstat test /guest/diskimage1; domblkstat test --device vda"),
        .line("domblkstat-human", "domblkstat test vda --human"),
        .line("domblkstat-summary", "domblkstat test"),
        .line("domblkstat-unknown-disk", "domblkstat test hda"),
        .line("domblkstat-inactive", "destroy test; domblkstat test vda"),
        .line("domifstat", "domifstat test testnet0; domifstat test aa:bb:cc:dd:ee:ff"),
        .line("domifstat-unknown", "domifstat test vnet0; domifstat test 52:54:00:00:00:01"),
        .line("domifstat-missing-interface", "domifstat test"),
        .line("domifstat-inactive", "destroy test; domifstat test testnet0"),
        .line("dommemstat", "dommemstat test"),
        .line("dommemstat-inactive", "destroy test; dommemstat test"),
        .line("dommemstat-no-balloon", "create @DIR@/stats.xml; dommemstat st"),
        .line("dommemstat-period", "dommemstat test --period 5; dumpxml test; dommemstat test --period 0 --config; dumpxml test --inactive"),
        .line("dommemstat-period-errors",
              "dommemstat test --period -1; dommemstat test --period x; dommemstat test --period 3 --current --live"),
        .line("dommemstat-period-no-balloon", "create @DIR@/stats.xml; dommemstat st --period 3"),
        .line("dommemstat-period-inactive", "destroy test; dommemstat test --period 3; dumpxml test"),
        .line("domblkinfo", "domblkinfo test vda; domblkinfo test /guest/diskimage1; domblkinfo test vda --human"),
        .line("domblkinfo-all", "domblkinfo test --all; domblkinfo test --all --human; destroy test; domblkinfo test --all"),
        .line("domblkinfo-errors", "domblkinfo test; domblkinfo test hda"),
        .line("domblkinfo-no-source", "create @DIR@/stats.xml; domblkinfo st --all; domblkinfo st hdc"),
        .line("domblklist", "domblklist test; domblklist test --details; domblklist test --inactive"),
        .line("domblklist-devices", "create @DIR@/stats.xml; domblklist st; domblklist st --details"),
        .line("domiflist", "domiflist test; domiflist test --inactive"),
        .line("domiflist-devices", "create @DIR@/stats.xml; domiflist st"),
        VshCase(name: "domblklist-quiet", args: ["-q", "-c", "test:///default", "domblklist test; domiflist test"]),
        .line("vcpuinfo", "vcpuinfo test"),
        .line("vcpuinfo-pretty-pinned", "vcpupin test 0 1-3; vcpuinfo test --pretty"),
        .line("vcpuinfo-inactive", "destroy test; vcpuinfo test"),
        .line("vcpupin-query", "vcpupin test; vcpupin test --config; vcpupin test --live"),
        .line("vcpupin-query-one", "vcpupin test 1; vcpupin test --vcpu 0"),
        .line("vcpupin-set", "vcpupin test 0 1-3; vcpupin test 1 2,4; dumpxml test"),
        .line("vcpupin-all-cpus", "vcpupin test 1 r; dumpxml test"),
        .line("vcpupin-errors",
              "vcpupin test 5 1; vcpupin test 0 ''; vcpupin test 0 ^0; vcpupin test 0 x; vcpupin test --vcpu 3; vcpupin test --cpulist 1"),
        .line("vcpupin-flags", "vcpupin test 0 1 --config; vcpupin test 0 1 --live; vcpupin test 1 --live --config"),
        .line("vcpupin-inactive", "destroy test; vcpupin test 0 1"),
        .line("vcpupin-beyond-maxcpu", "vcpupin test 0 9"),
        .line("emulatorpin-query", "emulatorpin test; emulatorpin test --config"),
        .line("emulatorpin-set", "emulatorpin test 2-3; emulatorpin test 1 --config; dumpxml test; dumpxml test --inactive"),
        .line("emulatorpin-errors", "emulatorpin test ^0; emulatorpin test x; destroy test; emulatorpin test 1"),
        .line("help-stats",
              "help domblkstat; help domifstat; help dommemstat; help domblkinfo; help domblklist; help domiflist"),
        .line("help-vcpu", "help vcpuinfo; help vcpupin; help emulatorpin"),

        // Resource control (the test driver's "fair" scheduler, <memtune>, <blkiotune>)
        .line("schedinfo", "schedinfo test; schedinfo test --set weight=20; schedinfo test --config; schedinfo test --weight 3"),
        .line("schedinfo-errors", "schedinfo test --set foo=1; schedinfo test --set weight=x; schedinfo test --set nothing; schedinfo nosuch"),
        .line("memtune", "memtune test; memtune test --hard-limit 1000; memtune test; memtune test --config; memtune test --soft-limit 1G; dumpxml test"),
        .line("memtune-errors", "memtune test --swap-hard-limit 10 --hard-limit 20; memtune test --min-guarantee 5; memtune test --hard-limit abc; memtune test --hard-limit 99999999999999999"),
        .line("memtune-unlimited", "memtune test --hard-limit 100 --swap-hard-limit 200; memtune test --hard-limit -1; memtune test"),
        .line("blkiotune", "blkiotune test; blkiotune test --weight 300; blkiotune test --device-weights /dev/sda,200; blkiotune test; dumpxml test"),
        .line("blkiotune-devices", "blkiotune test --device-read-iops-sec /dev/a,1,/dev/b,2 --device-write-bytes-sec /dev/a,9; blkiotune test; blkiotune test --device-read-iops-sec /dev/a,0; blkiotune test"),
        .line("blkiotune-errors", "blkiotune test --weight 0; blkiotune test --weight x; blkiotune test --device-weights /dev/a; blkiotune test --device-weights /dev/a,x"),
        .line("help-tuning", "help schedinfo; help memtune; help blkiotune; help domiftune"),
        .line("bandwidth-xml", "define @DIR@/bw-ok.xml; dumpxml bw-ok; domiftune bw-ok 52:54:00:00:00:10; "
              + "define @DIR@/bw-empty.xml; dumpxml bw-empty; define @DIR@/bw-zero.xml; dumpxml bw-zero; "
              + "domiftune bw-zero 52:54:00:00:00:12 --config"),
        .line("bandwidth-xml-errors", "define @DIR@/bw-floor-bridge.xml; define @DIR@/bw-floor-out.xml; "
              + "define @DIR@/bw-classid.xml; define @DIR@/bw-missing.xml; define @DIR@/bw-peak-floor.xml; "
              + "define @DIR@/bw-dup.xml; define @DIR@/bw-bad.xml"),
        // Link state (domif-getlink reads the XML; domif-setlink builds the device XML for virDomainUpdateDeviceFlags,
        // which libvirt's test driver refuses), the maximum memory and the vCPU maximum.
        .line("domif-link", "domif-getlink test testnet0; domif-getlink test AA:BB:CC:DD:EE:FF --config; domif-getlink test vnet0; "
              + "domif-getlink test 52:54:00:aa:bb:cc; domif-setlink test testnet0 down --print-xml; "
              + "domif-setlink test testnet0 down; domif-setlink test vnet0 down; domif-setlink test 52:54:00:aa:bb:cc up; "
              + "domif-setlink test testnet0 sideways; domif-setlink test testnet0 up --config; domif-getlink nosuchdom x; "
              + "help domif-getlink; help domif-setlink"),
        .line("setmaxmem", "setmaxmem test 4G; setmaxmem test 1G --config; dominfo test; dumpxml --inactive test; "
              + "setmaxmem test 1x; setmaxmem test 1.5G; setmaxmem test 99999999999999999999; setmaxmem test 0; "
              + "setmaxmem test 1G --current; setmaxmem test 1G --config --live; setmem test 1x; help setmaxmem"),
        .line("maxvcpus", "maxvcpus; maxvcpus --type qemu; help maxvcpus"),
        // The shell's own commands (cd works only interactively, in virsh as here).
        .line("shell-builtins", #"echo a b 'c d'; echo --shell a "b c" "it's" ''; echo --xml '<a&b>' x "q\"t'"; "#
              + "echo --split a,b,,c d; echo --split x a,b; echo --split ,, a,; echo; echo --err oops; "
              + "echo --xml --shell '<a b>'; pwd; cd /tmp; help echo; help pwd; help cd"),
        .line("domstats", "domstats; domstats --raw test --state; domstats --list-shutoff; domstats nosuch; domstats test test; "
              + "domstats --block test; domstats --block --enforce test; domstats --list-active --list-inactive; help domstats"),
        // domiftune on the test driver's interface (bandwidth kept in <bandwidth>, nothing applied)
        .line("domiftune", "domiftune test aa:bb:cc:dd:ee:ff; domiftune test aa:bb:cc:dd:ee:ff --inbound 100,200,300 --outbound 50; "
              + "domiftune test aa:bb:cc:dd:ee:ff; dumpxml test; domiftune test aa:bb:cc:dd:ee:ff --config; "
              + "domiftune test aa:bb:cc:dd:ee:ff --inbound 0; domiftune test aa:bb:cc:dd:ee:ff; "
              + "domiftune test aa:bb:cc:dd:ee:ff --outbound 0; dumpxml test"),
        .line("domiftune-errors", "domiftune test vnet0; domiftune test 00:11:22:33:44:55; domiftune test aa:bb:cc:dd:ee:ff --live --config; "
              + "domiftune test aa:bb:cc:dd:ee:ff --inbound x; domiftune test aa:bb:cc:dd:ee:ff --outbound 1,2,3,4; "
              + "domiftune nosuch aa:bb:cc:dd:ee:ff; domiftune test aa:bb:cc:dd:ee:ff --inbound 0,0,0,5; domiftune test aa:bb:cc:dd:ee:ff; "
              + "destroy test; domiftune test aa:bb:cc:dd:ee:ff --live; domiftune test aa:bb:cc:dd:ee:ff --config"),

        // desc and metadata
        .line("desc-none", "desc test; desc test --title"),
        .line("desc-set", "desc test --new-desc 'hello world'; desc test; desc test --title --new-desc T1; desc test --title; dumpxml test"),
        .line("desc-words", "desc test hello big world; desc test; desc test --config"),
        .line("desc-clear", "desc test --new-desc x; desc test --new-desc ''; desc test"),
        .line("desc-config", "desc test --config --new-desc cfg; desc test --config; desc test --live; dumpxml test --inactive"),
        .line("desc-title-newline", "desc test --title --new-desc 'a\nb'"),
        .line("desc-inactive-live", "destroy test; desc test --live; desc test --live --new-desc x; desc test --current --live"),
        .line("metadata-set-get",
              "metadata test http://x/ --key k --set '<a xmlns:z=\"http://z\"><b c=\"1\">t</b></a>'; metadata test http://x/; dumpxml test; metadata test http://x/ --remove --key k; metadata test http://x/; dumpxml test"),
        .line("metadata-replace",
              "metadata test http://x/ --key k --set '<a/>'; metadata test http://x/ --key k2 --set '<c/>'; metadata test http://q/ --key q --set '<d>1</d>'; dumpxml test"),
        .line("metadata-errors",
              "metadata test http://y/; metadata test http://x/ --set '<c/>'; metadata test http://x/ --key k --set 'notxml'; metadata test http://x/ --key 1k --set '<a/>'; metadata test http://x/ --key k --set '<k:a xmlns:k=\"http://x/\">x</k:a>'; metadata test ''; metadata test http://x/ --set a --remove"),
        .line("metadata-config", "metadata test http://x/ --key k --set '<a>x</a>' --config; metadata test http://x/ --config; metadata test http://x/"),
        VshCase(name: "metadata-readonly", args: ["-r", "-c", "test:///default", "metadata test http://x/ --key k --set '<a/>'; desc test --new-desc x; desc test"]),
        .line("help-metadata", "help desc; help metadata; help inject-nmi"),
        .line("inject-nmi", "inject-nmi test; destroy test; inject-nmi test"),
        // devices (the test driver has no device calls, as libvirt 9.0's)
        .line("attach-device", "attach-device test @DIR@/hpdisk.xml; attach-device test @DIR@/hpdisk.xml --config; attach-device test @DIR@/hpdisk.xml --print-xml; attach-device test @DIR@/nofile.xml; attach-device test @DIR@/hpdisk.xml --current --live"),
        .line("detach-update-device", "detach-device test @DIR@/hpdisk.xml; detach-device test @DIR@/hpdisk.xml --live; update-device test @DIR@/hpdisk.xml --force; detach-device-alias test ua-x; detach-device-alias test ua-x --config; attach-device test @DIR@/hpdisk.xml --persistent --current"),
        .line("attach-disk-xml", "attach-disk test /tmp/x.img vde --targetbus virtio --print-xml; attach-disk test /tmp/x.img vde --type cdrom --driver qemu --subdriver raw --cache none --mode readonly --serial s1 --print-xml; attach-disk test /x vde --sourcetype foo; attach-disk test /x vde --mode foo; attach-disk test /tmp/x.img vde"),
        .line("attach-interface-xml", "attach-interface test network default --mac 52:54:00:00:00:01 --model virtio --target vnet7 --print-xml; attach-interface test user x; attach-interface test bridge br0 --print-xml; attach-interface test direct eth0 --print-xml; attach-interface test network default"),
        .line("detach-missing", "detach-disk test vdz; detach-interface test user; detach-interface test network --mac 00:00:00:00:00:00; change-media test hda --eject; change-media test hdc; detach-disk test vdz --config"),
        VshCase(name: "inject-nmi-readonly", args: ["-r", "-c", "test:///default", "inject-nmi test"]),
    ]
}
