/// The storage pool and volume command lines of the vsh/virsh differential test, and their files.
enum StorageVshCases {
    static let fixtures: [String: String] = [
        "pool1.xml": """
            <pool type='dir'>
              <name>p1</name>
              <uuid>11111111-2222-3333-4444-555555555555</uuid>
              <target><path>/tmp/p1</path></target>
            </pool>

            """,
        "pool-netfs.xml": """
            <pool type='netfs'>
              <name>nfs</name>
              <uuid>21111111-2222-3333-4444-555555555555</uuid>
              <source><host name='nfs.example.com' port='2049'/><dir path='/exports//images/'/><format type='nfs'/>
                <protocol ver='4.1'/></source>
              <target><path>/mnt/nfs</path><permissions><mode>0755</mode><owner>107</owner><group>107</group></permissions></target>
            </pool>

            """,
        "pool-logical.xml": """
            <pool type='logical'>
              <source><device path='/dev/sdb1'/><name>vg0</name></source>
              <uuid>31111111-2222-3333-4444-555555555555</uuid>
            </pool>

            """,
        "pool-bad.xml": "<pool type='dir'>\n  <name>bad</name>\n  <target>\n</pool>\n",
        "pool-notype.xml": "<pool><name>x</name></pool>\n",
        "pool-badtype.xml": "<pool type='nope'><name>x</name></pool>\n",
        "pool-noname.xml": "<pool type='dir'><target><path>/x</path></target></pool>\n",
        "pool-dup-path.xml": "<pool type='dir'><name>dup</name><target><path>/default-pool</path></target></pool>\n",
        "pool-dup-name.xml": "<pool type='dir'><name>default-pool</name><target><path>/other</path></target></pool>\n",
        "v1.xml": """
            <volume><name>v1</name><capacity unit='M'>10</capacity><allocation>1024</allocation>
              <target><format type='qcow2'/><permissions><mode>0600</mode></permissions></target></volume>

            """,
        "v-bad.xml": "<volume><name>vb</name></volume>\n",
        "v-badformat.xml": "<volume><name>vb</name><capacity>1</capacity><target><format type='bogus'/></target></volume>\n",
        "v-huge.xml": "<volume><name>huge</name><capacity unit='T'>1</capacity></volume>\n",
        "node-pools.xml": """
            <node>
              <pool type='dir'>
                <name>np</name>
                <uuid>41111111-2222-3333-4444-555555555555</uuid>
                <target><path>/np</path></target>
                <volume><name>a.img</name><capacity unit='G'>2</capacity><allocation unit='M'>300</allocation></volume>
                <volume><name>b.img</name><key>keyb</key><capacity>4096</capacity>
                  <target><path>/elsewhere/b.img</path></target></volume>
              </pool>
              <pool type='fs'>
                <name>fsp</name>
                <uuid>51111111-2222-3333-4444-555555555555</uuid>
                <source><device path='/dev/sdc1'/></source>
                <target><path>/fsp</path></target>
              </pool>
            </node>

            """,
    ]

    static let all: [VshCase] = [
        .line("pool-list", "pool-list; pool-list --all; pool-list --inactive; pool-list --details; pool-list --all --details"),
        .line("pool-list-name-uuid", "pool-list --name; pool-list --uuid; pool-list --uuid --name --all; pool-list --details --uuid"),
        .line("pool-list-filters", "pool-define @DIR@/pool1.xml; pool-list --all --persistent; pool-list --transient; "
              + "pool-list --all --no-autostart; pool-list --type dir --all; pool-list --type fs,netfs --all; "
              + "pool-list --type bogus"),
        .line("pool-info", "pool-info default-pool; pool-info --bytes default-pool; pool-info dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566; "
              + "pool-info nope; pool-info"),
        .line("pool-dumpxml", "pool-dumpxml default-pool; pool-dumpxml --inactive default-pool; pool-dumpxml nope"),
        .line("pool-lifecycle", "pool-define @DIR@/pool1.xml; pool-list --all --details; pool-info p1; pool-start p1; "
              + "pool-start p1; pool-autostart p1; pool-list --autostart --all; pool-info p1; pool-autostart p1 --disable; "
              + "pool-uuid p1; pool-name 11111111-2222-3333-4444-555555555555; pool-refresh p1; pool-build p1; "
              + "pool-delete p1; pool-destroy p1; pool-destroy p1; pool-refresh p1; pool-build p1; pool-delete p1; "
              + "pool-undefine p1; pool-undefine p1"),
        .line("pool-active-refusals", "pool-start default-pool; pool-undefine default-pool; pool-build default-pool; "
              + "pool-delete default-pool; pool-start default-pool --build; pool-build default-pool --overwrite --no-overwrite"),
        .line("pool-define-xml", "pool-define @DIR@/pool-netfs.xml; pool-dumpxml nfs; pool-define @DIR@/pool-logical.xml; "
              + "pool-dumpxml vg0; pool-list --all --details"),
        .line("pool-define-errors", "pool-define @DIR@/pool-bad.xml; pool-define @DIR@/pool-notype.xml; "
              + "pool-define @DIR@/pool-badtype.xml; pool-define @DIR@/pool-noname.xml; pool-define @DIR@/v1.xml; "
              + "pool-define @DIR@/pool-dup-path.xml; pool-define @DIR@/pool-dup-name.xml; pool-define @DIR@/nosuch.xml"),
        .line("pool-create-transient", "pool-create @DIR@/pool1.xml; pool-list --all --details; pool-list --transient; "
              + "pool-autostart p1; pool-info p1; pool-destroy p1; pool-list --all; pool-create @DIR@/pool1.xml --build"),
        .line("pool-as", "pool-define-as dp dir --target /tmp/dp --print-xml; pool-define-as dp dir --target /tmp/dp; "
              + "pool-dumpxml dp; pool-create-as tp netfs --source-host h --source-path /e --target /mnt/t --source-format nfs; "
              + "pool-dumpxml tp; pool-define-as x; pool-create-as cp dir /tmp/cp-target --print-xml"),
        .line("pool-event-list", "pool-event --list; pool-event; pool-event --event bogus"),
        .line("vol-basics", "vol-list default-pool; vol-create default-pool @DIR@/v1.xml; vol-dumpxml v1 --pool default-pool; "
              + "vol-list default-pool; vol-list default-pool --details; vol-info v1 --pool default-pool; "
              + "vol-info --bytes /default-pool/v1; vol-key v1 --pool default-pool; vol-path v1 --pool default-pool; "
              + "vol-pool /default-pool/v1; vol-pool --uuid /default-pool/v1; vol-name /default-pool/v1; pool-info default-pool"),
        .line("vol-create-as-clone", "vol-create-as default-pool v2 5M --allocation 1M --format raw; "
              + "vol-create-as default-pool v3 1G --print-xml; vol-create-as default-pool v4 12x; "
              + "vol-clone v2 v2c --pool default-pool; vol-create-from default-pool @DIR@/v1.xml v2 --inputpool default-pool; "
              + "vol-list default-pool --details; vol-delete v2c --pool default-pool; vol-list default-pool; pool-info default-pool"),
        .line("vol-errors", "vol-info v9 --pool default-pool; vol-info v9; vol-create default-pool @DIR@/v1.xml; "
              + "vol-create default-pool @DIR@/v1.xml; vol-create default-pool @DIR@/v-bad.xml; "
              + "vol-create default-pool @DIR@/v-badformat.xml; vol-create default-pool @DIR@/v-huge.xml; "
              + "vol-create default-pool @DIR@/pool1.xml; vol-create nope @DIR@/v1.xml; vol-wipe v1 --pool default-pool; "
              + "vol-resize v1 1G --pool default-pool; vol-resize v1 -1G --pool default-pool; vol-info --physical v1 --pool default-pool; "
              + "vol-list nope"),
        .line("vol-create-flags", "vol-create --prealloc-metadata default-pool @DIR@/v1.xml; "
              + "vol-create --validate default-pool @DIR@/v1.xml; vol-create default-pool @DIR@/v1.xml; "
              + "vol-create-from --validate default-pool @DIR@/v1.xml v1 --inputpool default-pool; "
              + "vol-create-from --reflink default-pool @DIR@/v1.xml v1 --inputpool default-pool; "
              + "vol-clone --reflink v1 v5 --pool default-pool; vol-create-as default-pool z 1M --prealloc-metadata"),
        .line("vol-inactive-pool", "pool-define @DIR@/pool1.xml; vol-list p1; vol-create p1 @DIR@/v1.xml; vol-info v1 --pool p1"),
        VshCase(name: "storage-node-file", args: ["-c", "test:///@DIR@/node-pools.xml",
                                                  "pool-list --all --details; vol-list np --details; vol-dumpxml a.img --pool np; "
                                                  + "vol-dumpxml keyb; vol-path b.img --pool np; pool-dumpxml np; pool-dumpxml fsp"]),
        .line("find-sources", "find-storage-pool-sources-as netfs foo 22; find-storage-pool-sources-as netfs; "
              + "find-storage-pool-sources dir; find-storage-pool-sources bogus; find-storage-pool-sources iscsi; "
              + "find-storage-pool-sources-as logical; find-storage-pool-sources netfs --srcSpec @DIR@/pool1.xml; "
              + "find-storage-pool-sources-as --type netfs --host h --initiator iqn.x"),
        VshCase(name: "storage-readonly", args: ["-r", "-c", "test:///default",
                                                 "pool-destroy default-pool; pool-define @DIR@/pool1.xml; pool-autostart default-pool; "
                                                 + "vol-create default-pool @DIR@/v1.xml; vol-create-as default-pool x 1M; "
                                                 + "pool-refresh default-pool; find-storage-pool-sources logical; pool-list --all"]),
        .line("help-storage-find", "help find-storage-pool-sources; help find-storage-pool-sources-as; "
              + "help pool-capabilities"),
        .line("pool-capabilities", "pool-capabilities; pool-capabilities --bogus"),
        .line("help-storage", "help pool-list; help pool-info; help pool-define-as; help vol-list; help vol-create-as; "
              + "help vol-info; help pool-event; help vol-resize"),
    ]
}
