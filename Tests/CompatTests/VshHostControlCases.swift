/// domblkthreshold, domdirtyrate-calc, guest-agent-timeout, migrate-compcache, domsetlaunchsecstate, nodesevinfo
/// and nodesuspend in the vsh/virsh differential test: libvirt 9.0's test driver implements none of them, so
/// what is compared is virsh's own option handling and errors, and the driver's NO_SUPPORT answers. (nodesuspend
/// only ever reaches that refusal here; no host is suspended.)
enum VshHostControlCases {
    static let fixtures: [String: String] = [
        "sev-hdr": "c2V2LWhlYWRlcgo=\n",
        "sev-secret": "c2V2LXNlY3JldAo=\n",
    ]

    static let all: [VshCase] = [
        .line("domblkthreshold", "domblkthreshold test vda 100; domblkthreshold test vda 10M; domblkthreshold nosuch vda 1"),
        .line("domblkthreshold-errors", "domblkthreshold test vda -5; domblkthreshold test vda x; domblkthreshold test vda 1Q"),
        .line("domblkthreshold-missing", "domblkthreshold test vda"),
        .line("domdirtyrate-calc", "domdirtyrate-calc test; domdirtyrate-calc test --seconds 5 --mode dirty-ring; "
              + "domdirtyrate-calc test --mode bogus; domdirtyrate-calc test --seconds x; domdirtyrate-calc nosuch"),
        .line("guest-agent-timeout", "guest-agent-timeout test; guest-agent-timeout test --timeout 10; "
              + "guest-agent-timeout test --timeout abc; guest-agent-timeout nosuch --timeout 1"),
        .line("migrate-compcache", "migrate-compcache test; migrate-compcache test --size 65536; "
              + "migrate-compcache test --size -1; migrate-compcache test --size x; migrate-compcache nosuch"),
        .line("domsetlaunchsecstate", "domsetlaunchsecstate test; domsetlaunchsecstate test --secrethdr @DIR@/sev-hdr; "
              + "domsetlaunchsecstate test --secrethdr @DIR@/sev-hdr --secret @DIR@/nosuch; "
              + "domsetlaunchsecstate test --secrethdr @DIR@/sev-hdr --secret @DIR@/sev-secret; "
              + "domsetlaunchsecstate test --secrethdr @DIR@/sev-hdr --secret @DIR@/sev-secret --set-address 4096; "
              + "domsetlaunchsecstate test --secrethdr @DIR@/sev-hdr --secret @DIR@/sev-secret --set-address x; "
              + "domsetlaunchsecstate nosuch"),
        .line("nodesevinfo", "nodesevinfo"),
        .line("nodesuspend", "nodesuspend mem 60; nodesuspend disk 10; nodesuspend hybrid 100; nodesuspend bogus 60; "
              + "nodesuspend mem -1; nodesuspend mem x"),
        .line("nodesuspend-missing", "nodesuspend mem"),
        VshCase(name: "host-control-read-only", args: ["-r", "-c", "test:///default",
                                                       "domblkthreshold test vda 1; domdirtyrate-calc test; "
                                                       + "guest-agent-timeout test; migrate-compcache test; "
                                                       + "migrate-compcache test --size 65536; nodesevinfo; "
                                                       + "nodesuspend mem 60"]),
        .line("help-host-control", "help domblkthreshold; help domdirtyrate-calc; help guest-agent-timeout; "
              + "help migrate-compcache; help domsetlaunchsecstate; help nodesevinfo; help nodesuspend"),
    ]
}
