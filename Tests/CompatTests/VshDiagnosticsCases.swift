/// domhostname, domcontrol, domblkerror, send-process-signal, domlaunchsecinfo, freepages and allocpages in the
/// vsh/virsh differential test.
enum VshDiagnosticsCases {
    static let fixtures: [String: String] = [
        "numa-preferred.xml": "<domain type='test'><name>numa1</name><uuid>77777777-2222-3333-4444-555555555555</uuid>"
            + "<memory>1048576</memory><os><type>hvm</type></os>"
            + "<numatune><memory mode='preferred' nodeset='1'/></numatune></domain>\n",
        "numa-auto.xml": "<domain type='test'><name>numa2</name><uuid>77777777-2222-3333-4444-555555555556</uuid>"
            + "<memory>1048576</memory><vcpu placement='auto'>2</vcpu><os><type>hvm</type></os></domain>\n",
        "perf-ok.xml": "<domain type='test'><name>perf</name><uuid>66666666-2222-3333-4444-555555555555</uuid>"
            + "<memory>1048576</memory><os><type>hvm</type></os><perf><event name='cpu_cycles' enabled='no'/><event name='cmt' enabled='yes'/></perf></domain>\n",
        "perf-unknown.xml": "<domain type='test'><name>perf</name><uuid>66666666-2222-3333-4444-555555555555</uuid>"
            + "<memory>1048576</memory><os><type>hvm</type></os><perf><event name='bogus' enabled='no'/></perf></domain>\n",
        "perf-twice.xml": "<domain type='test'><name>perf</name><uuid>66666666-2222-3333-4444-555555555555</uuid>"
            + "<memory>1048576</memory><os><type>hvm</type></os><perf><event name='cmt' enabled='no'/><event name='cmt' enabled='yes'/></perf></domain>\n",
        "perf-bad-value.xml": "<domain type='test'><name>perf</name><uuid>66666666-2222-3333-4444-555555555555</uuid>"
            + "<memory>1048576</memory><os><type>hvm</type></os><perf><event name='cmt' enabled='maybe'/></perf></domain>\n",
        "perf-no-value.xml": "<domain type='test'><name>perf</name><uuid>66666666-2222-3333-4444-555555555555</uuid>"
            + "<memory>1048576</memory><os><type>hvm</type></os><perf><event name='cmt'/></perf></domain>\n",
        "perf-no-name.xml": "<domain type='test'><name>perf</name><uuid>66666666-2222-3333-4444-555555555555</uuid>"
            + "<memory>1048576</memory><os><type>hvm</type></os><perf><event enabled='yes'/></perf></domain>\n",
        "disks4.xml": """
            <domain type='test'>
              <name>disks4</name>
              <uuid>55555555-2222-3333-4444-555555555555</uuid>
              <memory>1048576</memory>
              <os><type>hvm</type></os>
              <devices>
                <disk type='file' device='disk'><source file='/tmp/a.img'/><target dev='vda' bus='virtio'/></disk>
                <disk type='file' device='disk'><source file='/tmp/b.img'/><target dev='vdb' bus='virtio'/></disk>
                <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>
                <disk type='file' device='disk'><source file='/tmp/c.img'/><target dev='vdd' bus='virtio'/></disk>
              </devices>
            </domain>

            """,
    ]

    static let all: [VshCase] = [
        .line("domhostname", "domhostname test; domhostname test --source agent; domhostname test --source lease; "
              + "domhostname test --source bogus; domhostname test agent; domhostname nosuch --source bogus; "
              + "destroy test; domhostname test; domhostname nosuch"),
        .line("domhostname-bad-args", "domhostname; domhostname test --source=; domhostname test --source"),
        .line("domcontrol", "domcontrol test; destroy test; domcontrol test; domcontrol nosuch; domcontrol"),
        .line("domcontrol-states", "domtime test --time 5000; domcontrol test; domtime test --time 15000; domcontrol test; "
              + "domtime test --time 30001; domcontrol test; domtime test --time 30002; domcontrol test; "
              + "domtime test --time 30003; domcontrol test; domtime test --time 30004; domcontrol test; "
              + "domtime test --time 0; domcontrol test; domtime test --time 60000; domcontrol test; "
              + "domtime test --time -5; domcontrol test"),
        .line("domtime", "domtime test; domtime test --pretty; domtime test --time 5000; domtime test; suspend test; "
              + "domtime test; domtime test --time 5; resume test; domtime test --sync; domtime test; destroy test; "
              + "domtime test; domtime test --time 1"),
        .line("domblkerror", "domblkerror test; create @DIR@/disks4.xml; domblkerror disks4; create @DIR@/gen.xml; "
              + "domblkerror gen; destroy test; domblkerror test; domblkerror nosuch"),
        .line("send-process-signal", "send-process-signal test 1 0; send-process-signal test 1 kill; "
              + "send-process-signal test 1 sigterm; send-process-signal test 1 SIG_HUP; send-process-signal test 1 Sig_Kill; "
              + "send-process-signal test 1 rt32; send-process-signal test 1 64; send-process-signal test 1 65; "
              + "send-process-signal test 1 99; destroy test; send-process-signal test 1 1"),
        .line("send-process-signal-errors", "send-process-signal test 0 1; send-process-signal test -1 1; "
              + "send-process-signal test 2 nop; send-process-signal test x 1; send-process-signal test 1 bogus; "
              + "send-process-signal test 1 -5; send-process-signal nosuch 1 1; send-process-signal test 1 ''"),
        .line("send-process-signal-missing", "send-process-signal test 1"),
        .line("domlaunchsecinfo", "domlaunchsecinfo test; destroy test; domlaunchsecinfo test; domlaunchsecinfo nosuch"),
        VshCase(name: "diagnostics-read-only", args: ["-r", "-c", "test:///default",
                                                      "domhostname test; domcontrol test; domblkerror test; "
                                                      + "send-process-signal test 1 1; domlaunchsecinfo test; "
                                                      + "send-process-signal test 0 1"]),
        .line("freepages", "freepages --all; freepages --cellno 0 --pagesize 4; freepages --cellno 1 --pagesize 8; "
              + "freepages --cellno -1 --pagesize 2M; freepages --cellno 5 --pagesize 1025b; freepages --all --pagesize 4; "
              + "freepages --all --pagesize 3; freepages --cellno 0 --pagesize 0"),
        .line("freepages-errors", "freepages; freepages --cellno 0; freepages --pagesize 4; freepages --all --cellno 0; "
              + "freepages --cellno x --pagesize 4; freepages --cellno -2 --pagesize 4; freepages --cellno 0 --pagesize 1.5; "
              + "freepages --cellno 0 --pagesize -1"),
        .line("freepages-limits", "freepages --cellno 0 --pagesize 4194303; freepages --cellno 0 --pagesize 4194304; "
              + "freepages --cellno 0 --pagesize 3G; freepages --cellno 0 --pagesize 4G; freepages --cellno 0 --pagesize 5T; "
              + "freepages --cellno 0 --pagesize 4294967295b; freepages --cellno 0 --pagesize 4294967296b"),
        .line("allocpages", "allocpages 2M 10; allocpages 4 100 --cellno 0; allocpages 4 10 --all --add; allocpages 4G 1; "
              + "allocpages 4T 1; allocpages 4 10 --all --cellno 0"),
        .line("allocpages-errors", "allocpages 4 x; allocpages x 4; allocpages 4 10 --cellno x; allocpages 4 -1"),
        .line("allocpages-missing", "allocpages 4"),
        VshCase(name: "pages-read-only", args: ["-r", "-c", "test:///default", "freepages --all; allocpages 4 10"]),
        .line("help-pages", "help freepages; help allocpages"),
        .line("perf", "perf test; perf test --enable cmt,cpu_cycles; perf test; dumpxml test; "
              + "perf test --disable cpu_cycles --config; perf test --config; dumpxml test --inactive"),
        .line("perf-errors", "perf test --enable bogus; perf test --enable cmt --disable cmt; "
              + "perf test --live --config --enable cmt; perf test --enable ,cmt,,; perf test --enable ''; "
              + "perf test --current --live; perf test --config --current; perf nosuch; perf"),
        .line("perf-inactive", "destroy test; perf test; perf test --enable cmt; perf test --live; "
              + "perf test --enable cmt --live; perf test --enable mbml,emulation_faults --disable cmt; dumpxml test"),
        .line("perf-transient", "create @DIR@/gen.xml; perf gen --config; perf gen --enable cmt; perf gen"),
        VshCase(name: "perf-quiet-read-only", args: ["-q", "-r", "-c", "test:///default", "perf test; perf test --enable cmt"]),
        .line("perf-xml", "define @DIR@/perf-ok.xml; dumpxml perf; perf perf; perf perf --enable instructions; dumpxml perf; "
              + "define @DIR@/perf-unknown.xml; define @DIR@/perf-twice.xml; define @DIR@/perf-bad-value.xml; "
              + "define @DIR@/perf-no-value.xml; define @DIR@/perf-no-name.xml"),
        .line("help-perf", "help perf; help set-lifecycle-action; help numatune; help cpu-stats"),
        .line("cpu-stats", "cpu-stats test; cpu-stats test --total; cpu-stats test --start 1 --count 2; "
              + "cpu-stats test --total --start 1; cpu-stats test --count 1; cpu-stats test --count 3 --total; "
              + "cpu-stats test --start 1 --count 5; cpu-stats test --count 0"),
        .line("cpu-stats-errors", "cpu-stats test --start 2; cpu-stats test --count -1; cpu-stats test --start x; "
              + "cpu-stats test --start -1; cpu-stats nosuch; destroy test; cpu-stats test"),
        VshCase(name: "cpu-stats-quiet-read-only", args: ["-q", "-r", "-c", "test:///default",
                                                          "cpu-stats test; cpu-stats test --count 9"]),
        .line("numatune", "numatune test; numatune test --mode interleave; numatune test --nodeset 0-1; numatune test; "
              + "numatune test --mode strict; numatune test --mode 2 --config; numatune test --config; "
              + "dumpxml test; dumpxml test --inactive"),
        .line("numatune-errors", "numatune test --mode bogus; numatune test --nodeset x; numatune test --nodeset ''; "
              + "numatune test --mode 7; numatune test --nodeset ^0; numatune test --nodeset 0,^0; "
              + "numatune test --current --live; numatune nosuch; numatune"),
        .line("numatune-modes", "numatune test --nodeset 0 --mode 0x2; numatune test --live --mode preferred; "
              + "numatune test --mode 010 --config; destroy test; numatune test --live; "
              + "numatune test --nodeset 1 --mode preferred; numatune test; dumpxml test"),
        .line("numatune-xml", "define @DIR@/numa-preferred.xml; numatune numa1; numatune numa1 --mode restrictive; "
              + "numatune numa1; dumpxml numa1; define @DIR@/numa-auto.xml; numatune numa2; "
              + "numatune numa2 --mode interleave; numatune numa2; dumpxml numa2; numatune numa2 --nodeset 1; dumpxml numa2"),
        .line("numatune-transient", "create @DIR@/gen.xml; numatune gen --config; numatune gen --nodeset 0; numatune gen"),
        VshCase(name: "numatune-read-only", args: ["-r", "-c", "test:///default", "numatune test; numatune test --nodeset 0"]),
        .line("set-lifecycle-action", "set-lifecycle-action test poweroff restart; "
              + "set-lifecycle-action test reboot preserve --config; "
              + "set-lifecycle-action test crash coredump-restart --live --config; dumpxml test; dumpxml test --inactive; "
              + "destroy test; set-lifecycle-action test crash rename-restart; dumpxml test"),
        .line("set-lifecycle-action-errors", "set-lifecycle-action test poweroff coredump-destroy; "
              + "set-lifecycle-action test reboot coredump-restart; set-lifecycle-action test bogus destroy; "
              + "set-lifecycle-action test crash bogus; set-lifecycle-action test crash restart --current --live; "
              + "set-lifecycle-action nosuch bogus destroy; set-lifecycle-action nosuch crash destroy; "
              + "set-lifecycle-action test crash ''; destroy test; set-lifecycle-action test crash restart --live"),
        .line("set-lifecycle-action-transient", "create @DIR@/gen.xml; set-lifecycle-action gen crash restart --config; "
              + "set-lifecycle-action gen reboot rename-restart; dumpxml gen"),
        .line("set-lifecycle-action-effect", "set-lifecycle-action test poweroff preserve; shutdown test; list --all; "
              + "start test; set-lifecycle-action test reboot destroy; reboot test; list --all"),
        .line("set-lifecycle-action-missing", "set-lifecycle-action test crash"),
        VshCase(name: "set-lifecycle-action-read-only", args: ["-r", "-c", "test:///default",
                                                               "set-lifecycle-action test crash restart"]),
        .line("help-diagnostics", "help domhostname; help domcontrol; help domblkerror; help send-process-signal; "
              + "help domlaunchsecinfo"),
    ]
}
