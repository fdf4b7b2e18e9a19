/// The editors (`edit`, `*-edit`), `domdisplay`, `vncdisplay`, `connect` and `domrename` of the vsh/virsh
/// differential test.
/// Editors run with `EDITOR` set to a command that edits the temporary file (sed) or leaves it alone (true).
enum VshEditDisplayCases {
    /// Running domains with graphics: listen addresses, wildcards, sockets, TLS ports and passwords.
    static let fixtures: [String: String] = [
        "gfx1.xml": graphicsDomain("gfx1", 1, """
            <graphics type='vnc' port='5904' autoport='no' listen='127.0.0.1' passwd='secret'/>
            <graphics type='spice' port='5910' tlsPort='5911' autoport='no' listen='0.0.0.0' passwd='sp'/>
            <graphics type='rdp' port='3389' autoport='no' listen='192.168.1.2'/>
            """),
        "gfx2.xml": graphicsDomain("gfx2", 2, """
            <graphics type='vnc' autoport='yes'/>
            <graphics type='spice' port='5930' autoport='no' listen='::' passwd='a b'/>
            <graphics type='rdp' port='3390' autoport='no' listen='fe80::1'/>
            """),
        "gfx3.xml": graphicsDomain("gfx3", 3, """
            <graphics type='vnc' socket='/tmp/vnc.sock'/>
            <graphics type='spice' tlsPort='5931' autoport='no' listen='0.0.0.0'/>
            """),
        "gfx4.xml": graphicsDomain("gfx4", 4, """
            <graphics type='vnc' port='5905' autoport='no'><listen type='address' address='10.0.0.1'/></graphics>
            <graphics type='vnc' port='5906' autoport='no' listen='0.0.0.0'/>
            <graphics type='spice' port='5940' autoport='no' passwd='p'><listen type='network' network='default'/></graphics>
            """),
    ]

    static func graphicsDomain(_ name: String, _ n: Int, _ graphics: String) -> String {
        "<domain type='test'><name>\(name)</name><uuid>44444444-2222-3333-4444-55555555555\(n)</uuid>"
            + "<memory>1048576</memory><os><type>hvm</type></os><devices>\(graphics)</devices></domain>\n"
    }

    static func edit(_ name: String, _ line: String, editor: String) -> VshCase {
        VshCase(name: name, args: ["-c", "test:///default", line], environment: ["EDITOR": editor])
    }

    static let all: [VshCase] = editors + display + connect + rename

    static let rename: [VshCase] = [
        .line("domrename", "domrename test x; destroy test; domrename test test; define @DIR@/d1.xml; domrename test d1; "
              + "domrename test a/b; domrename 1 x; domrename nosuch x; domrename test ''; domrename test renamed; "
              + "list --all; domrename 6695eb01-f6a4-8304-79aa-97f2502e193f back; list --all; dominfo back"),
        .line("domrename-transient", "create @DIR@/d2.xml; destroy D2; domrename D2 x; create @DIR@/gen.xml; "
              + "suspend gen; domrename gen x"),
        .line("domrename-snapshots", "destroy test; snapshot-create-as test s1; domrename test withsnap; list --all; "
              + "snapshot-list withsnap --name"),
        .line("domrename-bad-args", "domrename; domrename test; domrename test a b; help domrename"),
        VshCase(name: "domrename-read-only", args: ["-r", "-c", "test:///default", "domrename test x"]),
    ]

    static let editors: [VshCase] = [
        edit("edit-unchanged", "edit test; edit nosuch; edit 1; edit 6695eb01-f6a4-8304-79aa-97f2502e193f; "
             + "edit test --skip-validate", editor: "true"),
        edit("edit-changed", "edit test; dominfo test; dumpxml test --inactive", editor: "sed -i s/8388608/4194304/"),
        edit("edit-skip-validate", "edit test --skip-validate; dumpxml test --inactive", editor: "sed -i s/8388608/4194304/"),
        edit("edit-invalid", "edit test; list --all", editor: "sed -i s/memory/memoryx/"),
        edit("edit-rename-refused", "edit test; list --all", editor: "sed -i s/.test./\\>test2\\</"),
        edit("edit-missing-domain", "edit", editor: "true"),
        edit("edit-editor-fails", "edit test", editor: "false"),
        edit("edit-editor-shell-fails", "edit test", editor: "sh -c false"),
        edit("edit-editor-missing", "edit test", editor: "nosuch-editor"),
        VshCase(name: "edit-visual-first", args: ["-c", "test:///default", "edit test; dominfo test"],
                environment: ["VISUAL": "sed -i s/8388608/4194304/", "EDITOR": "false"]),
        edit("pool-edit-unchanged", "pool-edit default-pool; pool-edit nosuch", editor: "true"),
        edit("pool-edit-rename-fails", "pool-edit default-pool; pool-list --all", editor: "sed -i s/default-pool/pool2/"),
        edit("pool-edit-changed", "pool-destroy default-pool; pool-edit default-pool; pool-dumpxml default-pool",
             editor: "sed -i s/default-pool.path/default-pool2\\<\\/path/"),
        edit("iface-edit", "iface-edit eth1; iface-edit nosuch; iface-edit aa:bb:cc:dd:ee:ff", editor: "true"),
        edit("managedsave-edit", "managedsave-edit test; managedsave test; managedsave-edit test; "
             + "managedsave-edit test --running --paused; managedsave-edit nosuch", editor: "true"),
        edit("save-image-edit-unchanged", "save test @DIR@/s.img; save-image-edit @DIR@/s.img; "
             + "save-image-edit @DIR@/nosuch.img; save-image-edit @DIR@/s.img --running --paused", editor: "true"),
        edit("save-image-edit-changed", "save test @DIR@/s.img; save-image-edit @DIR@/s.img --paused; "
             + "save-image-dumpxml @DIR@/s.img; restore @DIR@/s.img; dominfo test; domstate test --reason",
             editor: "sed -i s/8388608/4194304/"),
        edit("save-image-edit-renamed", "save test @DIR@/s.img; save-image-edit @DIR@/s.img; save-image-edit; "
             + "restore @DIR@/s.img; list --all", editor: "sed -i s/name.test/name\\>test9/"),
        edit("save-image-edit-invalid", "save test @DIR@/s.img; save-image-edit @DIR@/s.img",
             editor: "sed -i s/memory/memoryx/"),
        edit("snapshot-edit-unchanged", "snapshot-create-as test s1; snapshot-edit test s1; snapshot-edit test; "
             + "snapshot-edit test --current; snapshot-edit test nosuch; snapshot-edit nosuch s1; "
             + "snapshot-edit test s1 --current --snapshotname s1", editor: "true"),
        edit("snapshot-edit-changed", "snapshot-create-as test s1 --description hello; "
             + "snapshot-edit test --snapshotname s1; snapshot-dumpxml test s1", editor: "sed -i s/hello/howdy/"),
        edit("snapshot-edit-rename-refused", "snapshot-create-as test s1; snapshot-edit test s1; snapshot-list test --name",
             editor: "sed -i s/.s1./\\>s2\\</"),
        edit("snapshot-edit-rename", "snapshot-create-as test s1; snapshot-edit test s1 --rename; snapshot-list test --name",
             editor: "sed -i s/.s1./\\>s2\\</"),
        edit("snapshot-edit-clone", "snapshot-create-as test s1; snapshot-edit test s1 --clone; snapshot-list test --name; "
             + "snapshot-edit test s1 --clone --rename", editor: "sed -i s/.s1./\\>s2\\</"),
        edit("snapshot-edit-current", "snapshot-create-as test s1; snapshot-create-as test s2; "
             + "snapshot-edit test s1 --current; snapshot-current test --name; snapshot-edit test --current; "
             + "snapshot-current test --name", editor: "true"),
        edit("snapshot-edit-editor-fails", "snapshot-create-as test s1; snapshot-edit test s1", editor: "false"),
        edit("checkpoint-edit-unchanged", "checkpoint-create-as test c1; checkpoint-edit test c1; checkpoint-edit test; "
             + "checkpoint-edit test nosuch; checkpoint-edit nosuch c1", editor: "true"),
        edit("checkpoint-edit-editor-fails", "checkpoint-create-as test c1; checkpoint-edit test c1", editor: "false"),
        .line("help-editors", "help edit; help pool-edit; help iface-edit; help snapshot-edit; help checkpoint-edit; "
              + "help managedsave-edit; help save-image-edit"),
    ]

    static let display: [VshCase] = [
        .line("domdisplay-vncdisplay",
              "define @DIR@/gfx1.xml; domdisplay gfx1; vncdisplay gfx1; start gfx1; domdisplay gfx1; domdisplay gfx1 --all; "
              + "domdisplay gfx1 --include-password --all; domdisplay gfx1 --type spice; "
              + "domdisplay gfx1 --type rdp --include-password; domdisplay gfx1 --type bogus; vncdisplay gfx1"),
        .line("domdisplay-none", "domdisplay test; vncdisplay test; domdisplay nosuch; vncdisplay nosuch; domdisplay; vncdisplay"),
        .line("domdisplay-bad-options", "domdisplay nosuch --all --type vnc; domdisplay nosuch --type=; domdisplay test --type=; "
              + "domdisplay test --type vnc; domdisplay test --include"),
        VshCase(name: "domdisplay-read-only", args: ["-r", "-c", "test:///default",
                                                     "domdisplay test --include-password; vncdisplay test"]),
        VshCase(name: "domdisplay-quiet", args: ["-q", "-c", "test:///default",
                                                 "create @DIR@/gfx1.xml; domdisplay gfx1; domdisplay gfx1 --all"]),
        .line("help-display", "help domdisplay; help vncdisplay; help connect"),
        .line("help-groups", "help virsh; help monitor; help snapshot; help checkpoint"),
    ] + (2...4).map { n in
        .line("domdisplay-gfx\(n)", "create @DIR@/gfx\(n).xml; domdisplay gfx\(n) --all --include-password; "
              + "vncdisplay gfx\(n); domdisplay gfx\(n) --type vnc --all; domdisplay gfx\(n) --type spice --include-password; "
              + "domdisplay gfx\(n) --type=")
    }

    static let connect: [VshCase] = [
        .line("connect", "destroy test; connect; list --all; uri; connect test:///default --readonly; uri; destroy test; "
              + "connect; destroy test; connect --name test:///default; destroy test; list"),
        .line("connect-bad-args", "connect test:///default extra; uri"),
        .line("connect-missing-value", "connect --name; uri"),
        .line("connect-readonly", "connect --name=test:///default --readonly; start test; connect; start test"),
        VshCase(name: "connect-from-readonly", args: ["-r", "-c", "test:///default",
                                                      "destroy test; connect; destroy test; connect test:///default; destroy test"]),
        VshCase(name: "connect-node-file", args: ["-c", "test:///default",
                                                  "connect test:///@DIR@/netnode.xml; uri; net-list --all"]),
    ]
}
