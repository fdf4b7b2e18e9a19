/// iothreadadd, iothreaddel, iothreadpin, iothreadset (with iothreadinfo and domstats --iothread), setvcpu,
/// guestvcpus, dompmsuspend, dompmwakeup, domxml-to-native and domxml-from-native in the vsh/virsh differential
/// test on libvirt's test driver.
enum VshVcpuIOThreadCases {
    static let fixtures: [String: String] = [
        "iot.xml": """
            <domain type='test'><name>iot</name><uuid>77777777-2222-3333-4444-555555555599</uuid>
            <memory>1048576</memory><vcpu>4</vcpu><iothreads>2</iothreads><os><type>hvm</type></os>
            <cputune><iothreadpin iothread='2' cpuset='1'/></cputune>
            <devices><disk type='file' device='disk'><driver name='qemu' iothread='2'/><source file='/tmp/a.img'/>
            <target dev='vda' bus='virtio'/></disk></devices></domain>

            """,
        "iot-cpuset.xml": """
            <domain type='test'><name>iot2</name><uuid>77777777-2222-3333-4444-555555555598</uuid>
            <memory>1048576</memory><vcpu cpuset='1-2'>3</vcpu><iothreads>2</iothreads><os><type>hvm</type></os>
            </domain>

            """,
        "native.txt": "LC_ALL=C /usr/bin/qemu-system-x86_64 -name foo -m 64\n",
        "mem2.xml": """
            <domain type='test'><name>vm</name><uuid>77777777-2222-3333-4444-555555555577</uuid>
            <maxMemory slots='4' unit='KiB'>4194304</maxMemory><memory unit='KiB'>2097152</memory><vcpu>2</vcpu><os><type>hvm</type></os>
            <cpu><numa><cell id='0' cpus='0-1' memory='1048576' unit='KiB'/></numa></cpu>
            <devices><memory model='virtio-mem'><target><size unit='KiB'>524288</size><node>0</node><block unit='KiB'>2048</block><requested unit='KiB'>262144</requested></target></memory>
            <memory model='dimm'><target><size unit='KiB'>524288</size><node>0</node></target></memory></devices></domain>
            """,
        "mem1.xml": """
            <domain type='test'><name>vm1</name><uuid>77777777-2222-3333-4444-555555555578</uuid>
            <maxMemory slots='4' unit='KiB'>4194304</maxMemory><memory unit='KiB'>2097152</memory><vcpu>2</vcpu><os><type>hvm</type></os>
            <cpu><numa><cell id='0' cpus='0-1' memory='1048576' unit='KiB'/></numa></cpu>
            <devices><memory model='virtio-mem'><target><size unit='KiB'>524288</size><node>0</node><block unit='KiB'>2048</block><requested unit='KiB'>262144</requested></target></memory>
            </devices></domain>
            """,
        // Per-vCPU states with orders: the test driver's setvcpus keeps each vCPU's hotpluggable and order.
        "vcpus.xml": """
            <domain type='test'><name>vc</name><uuid>77777777-2222-3333-4444-555555555566</uuid>
            <memory>1048576</memory><vcpu current='2'>4</vcpu><vcpus><vcpu id='0' enabled='yes' hotpluggable='no' order='1'/>
            <vcpu id='1' enabled='yes' hotpluggable='yes' order='2'/><vcpu id='2' enabled='no' hotpluggable='yes'/>
            <vcpu id='3' enabled='no' hotpluggable='yes'/></vcpus><os><type>hvm</type></os></domain>

            """,
    ]

    static let all: [VshCase] = [
        .line("setvcpus-per-vcpu", "define @DIR@/vcpus.xml; start vc; setvcpus vc 3 --live; dumpxml vc; vcpucount vc; "
              + "setvcpus vc 1 --config; dumpxml vc --inactive; setvcpus vc 2 --maximum --config; dumpxml vc --inactive; "
              + "setvcpus vc 6 --maximum --config; dumpxml vc --inactive; setvcpus vc 4 --live; vcpuinfo vc"),
        .line("iothread-add-info", "iothreadinfo test; iothreadadd test 5; iothreadinfo test; iothreadadd test 5; "
              + "iothreadadd test 0; iothreadadd test -1; iothreadadd test x; iothreadadd test 4294967296; "
              + "iothreadadd test 3 --config; iothreadinfo test --config; iothreadinfo test --live; "
              + "iothreadadd test 6 --config --live; iothreadadd test 7 --current --live; iothreadadd nosuch 1; "
              + "domstats test --iothread; dumpxml test; dumpxml test --inactive"),
        .line("iothread-pin", "iothreadadd test 5; iothreadpin test 5 0-1; iothreadinfo test; iothreadpin test 5 0 --config; "
              + "iothreadpin test 9 0; iothreadpin test 5 0-100; iothreadpin test 5 x; iothreadpin test 5 ^0; "
              + "iothreadpin test 5 0,^0; iothreadpin test 5 r; iothreadinfo test; iothreadpin test x 0; "
              + "iothreadpin test 5 1 --live --config; dumpxml test"),
        .line("iothread-set", "iothreadadd test 5; iothreadset test 5 --poll-max-ns 100 --poll-grow 2 --poll-shrink 3; "
              + "domstats test --iothread; iothreadset test 5; iothreadset test 5 --poll-max-ns 1 --config; "
              + "iothreadset test 5 --thread-pool-min 2; iothreadset test 5 --thread-pool-max 3 --poll-grow 1; "
              + "iothreadset test 5 --poll-max-ns -1; iothreadset test 5 --poll-grow 4294967296; "
              + "iothreadset test 99 --poll-grow 5; iothreadset test 5 --poll-shrink 7 --current; "
              + "iothreadset test 5 --poll-max-ns 5 --live; domstats test --iothread; iothreadset test x --poll-grow 1"),
        .line("iothread-del", "iothreadadd test 5; iothreadadd test 3 --config; iothreaddel test 5; iothreadinfo test; "
              + "iothreaddel test 5; iothreaddel test 0; iothreaddel test 3 --config; iothreadinfo test --config; "
              + "domstats test --iothread; destroy test; iothreaddel test 1 --live; iothreadset test 5 --poll-grow 9; "
              + "iothreadinfo test --live; iothreadinfo test"),
        .line("iothread-domain", "define @DIR@/iot.xml; iothreadinfo iot; iothreadadd iot 4; iothreadinfo iot --config; "
              + "iothreadadd iot 5 --live; iothreadpin iot 4 2; iothreadpin iot 4 2 --live; "
              + "iothreadset iot 4 --poll-max-ns 1; iothreadset iot 1 --poll-grow 3; start iot; iothreadinfo iot; "
              + "domstats iot --iothread; iothreaddel iot 2; iothreaddel iot 1; iothreadinfo iot; "
              + "iothreadinfo iot --config; dumpxml iot; dumpxml iot --inactive"),
        .line("iothread-cpuset", "define @DIR@/iot-cpuset.xml; iothreadinfo iot2; iothreadpin iot2 1 0; "
              + "iothreadinfo iot2; iothreaddel iot2 1; dumpxml iot2"),
        .line("setvcpu", "setvcpu test 1 --disable; setvcpu test 1 --enable --live; setvcpu test 1; "
              + "setvcpu test 1 --enable --disable; setvcpu nosuch 1 --enable; setvcpu test --enable; "
              + "setvcpu test 1 --current --config --enable"),
        .line("guestvcpus", "guestvcpus test; guestvcpus test --cpulist 1 --enable; guestvcpus test --enable; "
              + "guestvcpus test --cpulist 1; guestvcpus test --enable --disable --cpulist 1; guestvcpus nosuch"),
        .line("dompm", "dompmsuspend test mem; dompmsuspend test disk --duration 5; dompmsuspend test bogus; "
              + "dompmsuspend test hybrid --duration -1; dompmsuspend nosuch mem; dompmwakeup test; dompmwakeup nosuch"),
        .line("domxml-native", "domxml-to-native qemu-argv --domain test; domxml-to-native qemu-argv; "
              + "domxml-to-native qemu-argv --domain test --xml @DIR@/iot.xml; domxml-to-native qemu-argv --xml @DIR@/iot.xml; "
              + "domxml-to-native qemu-argv --xml @DIR@/nosuch.xml; domxml-from-native qemu-argv @DIR@/native.txt; "
              + "domxml-from-native qemu-argv @DIR@/nosuch.txt; domxml-to-native qemu-argv --domain nosuch"),
        .line("update-memory-device", "define @DIR@/mem2.xml; define @DIR@/mem1.xml; update-memory-device vm1 --print-xml; "
              + "update-memory-device vm1 --print-xml --node 0 --requested-size 1M; "
              + "update-memory-device vm1 --node 0 --requested-size 1M; "
              + "update-memory-device vm1 --requested-size 5 --print-xml --config; update-memory-device vm1 --requested-size x; "
              + "update-memory-device vm1 --node x; update-memory-device vm --print-xml; "
              + "update-memory-device vm --print-xml --node 1; update-memory-device vm --alias a --node 0; "
              + "update-memory-device vm1 --print-xml --requested-size 1500b; update-memory-device test; "
              + "update-memory-device nosuch; update-memory-device vm1 --live --current; help update-memory-device"),
        VshCase(name: "vcpu-iothread-read-only", args: ["-r", "-c", "test:///default",
                                                        "iothreadadd test 5; iothreaddel test 1; iothreadpin test 1 0; "
                                                        + "iothreadset test 1 --poll-grow 1; setvcpu test 1 --enable; "
                                                        + "guestvcpus test; dompmsuspend test mem; dompmwakeup test; "
                                                        + "domxml-to-native qemu-argv --domain test; iothreadinfo test"]),
        .line("vcpu-iothread-help", "help iothreadadd; help iothreaddel; help iothreadpin; help iothreadset; "
              + "help setvcpu; help guestvcpus; help dompmsuspend; help dompmwakeup; help domxml-to-native; "
              + "help domxml-from-native; help update-memory-device; help qemu-monitor-event"),
        .line("qemu-monitor-event", "qemu-monitor-event --timeout 1; qemu-monitor-event --domain nosuch; "
              + "qemu-monitor-event --timeout 0; qemu-monitor-event --timeout x; "
              + "qemu-monitor-event --domain test --event STOP --regex --no-case --pretty --loop --timestamp --timeout 1"),
    ]
}
