/// domhostname, domcontrol, domblkerror, send-process-signal and domlaunchsecinfo in the vsh/virsh
/// differential test.
enum VshDiagnosticsCases {
    static let fixtures: [String: String] = [
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
        .line("help-diagnostics", "help domhostname; help domcontrol; help domblkerror; help send-process-signal; "
              + "help domlaunchsecinfo"),
    ]
}
