/// nodedev-define, -undefine, -start, -autostart, -detach, -reattach, -reset and -event on the test driver (libvirt
/// 9.0's test driver implements none of the calls behind them, so each answers after its lookup), their options
/// and usage errors, read-only refusals and help, in the vsh/virsh differential test.
enum VshNodeDeviceLifecycleCases {
    static let fixtures: [String: String] = [
        "nd-net.xml": "<device><name>net_x</name><parent>computer</parent><capability type='net'>"
            + "<interface>x0</interface><address>52:54:00:00:00:01</address><capability type='80203'/></capability></device>\n",
        "nd-bad.xml": "<nodedev/>\n",
        "if-bridge.xml": "<interface type='bridge' name='br1'><start mode='onboot'/><protocol family='ipv4'><dhcp/></protocol>"
            + "<bridge stp='off'><interface type='ethernet' name='eth9'><mac address='52:54:00:aa:bb:cc'/></interface>"
            + "</bridge></interface>\n",
    ]

    static let all: [VshCase] = [
        .line("nodedev-define", "nodedev-define @DIR@/nd-net.xml; nodedev-define --validate @DIR@/nd-net.xml; "
            + "nodedev-define @DIR@/nd-bad.xml; nodedev-define --file @DIR@/missing.xml"),
        .line("nodedev-undefine", "nodedev-undefine computer; nodedev-undefine --device scsi_host1; nodedev-undefine nope; "
            + "nodedev-undefine 2000000012341234,1000000012341234; nodedev-undefine 12,34; nodedev-undefine a,b,c; "
            + "nodedev-undefine"),
        .line("nodedev-start", "nodedev-start computer; nodedev-start --device scsi_host1; nodedev-start nope; "
            + "nodedev-start 2000000012341234,1000000012341234"),
        .line("nodedev-autostart", "nodedev-autostart computer; nodedev-autostart --disable computer; "
            + "nodedev-autostart nope; nodedev-autostart 2000000012341234,1000000012341234 --disable; "
            + "nodedev-autostart --device scsi_host1 --disable"),
        .line("nodedev-detach", "nodedev-detach computer; nodedev-detach --driver vfio computer; nodedev-detach computer kvm; "
            + "nodedev-detach --device scsi_host1 --driver ''; nodedev-detach nope; nodedev-detach nope --driver vfio; "
            + "nodedev-detach"),
        .line("nodedev-dettach-alias", "nodedev-dettach computer; nodedev-dettach --device nope; help nodedev-dettach"),
        .line("nodedev-reattach-reset", "nodedev-reattach computer; nodedev-reattach nope; "
            + "nodedev-reset --device computer; nodedev-reset nope"),
        .line("nodedev-define-noarg", "nodedev-define"),
        .line("nodedev-undefine-noarg", "nodedev-undefine"),
        .line("nodedev-start-noarg", "nodedev-start"),
        .line("nodedev-autostart-noarg", "nodedev-autostart --disable"),
        .line("nodedev-detach-noarg", "nodedev-detach --driver vfio"),
        .line("nodedev-reattach-noarg", "nodedev-reattach"),
        .line("nodedev-reset-noarg", "nodedev-reset"),
        .line("nodedev-event-usage", "nodedev-event --list; nodedev-event; nodedev-event --event bad; "
            + "nodedev-event --event lifecycle --timeout 0; nodedev-event --event lifecycle --timeout x; "
            + "nodedev-event --event update --device nope; nodedev-event --list --event bad"),
        .line("nodedev-event-timeout", "nodedev-event --event lifecycle --timeout 1; "
            + "nodedev-event computer update --timeout 1 --loop --timestamp"),
        VshCase(name: "nodedev-lifecycle-readonly", args: ["-r", "-c", "test:///default",
            "nodedev-define @DIR@/nd-net.xml; nodedev-undefine computer; nodedev-start computer; nodedev-autostart computer; "
                + "nodedev-detach computer; nodedev-detach computer --driver vfio; nodedev-reattach computer; "
                + "nodedev-reset computer; nodedev-undefine nope"]),
        // The test driver refuses the inactive XML both commands start from (libvirt 9.0's does too).
        .line("iface-bridge", "iface-bridge eth1 br0; iface-bridge eth1 eth1; iface-bridge nope br0; "
            + "iface-bridge eth1 br0 --delay x; iface-bridge eth1 br0 --no-stp --delay 5 --no-start; "
            + "iface-bridge aa:bb:cc:dd:ee:ff br0; iface-bridge eth1 br0 --delay -3; iface-bridge --bridge br2 --interface eth1"),
        .line("iface-unbridge", "iface-unbridge eth1; iface-unbridge nope; iface-define @DIR@/if-bridge.xml; "
            + "iface-unbridge br1 --no-start; iface-unbridge aa:bb:cc:dd:ee:ff; iface-unbridge --bridge br1"),
        .line("iface-bridge-noarg", "iface-bridge eth1"),
        .line("iface-unbridge-noarg", "iface-unbridge --no-start"),
        VshCase(name: "iface-bridge-readonly", args: ["-r", "-c", "test:///default", "iface-bridge eth1 br0; iface-unbridge eth1"]),
        .line("iface-bridge-help", "help iface-bridge; help iface-unbridge; help interface"),
        .line("nodedev-lifecycle-help", "help nodedev-define; help nodedev-undefine; help nodedev-start; "
            + "help nodedev-autostart; help nodedev-event; help nodedev-detach; help nodedev-reattach; help nodedev-reset; "
            + "help nodedev"),
    ]
}
