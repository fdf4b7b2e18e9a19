/// The order virsh's command tables list each group's commands in (its `help` output), by group keyword.
extension CommandRegistry {
    static let virshOrder: [String: [String]] = [
        "domain": [
            "attach-device", "attach-disk", "attach-interface", "autostart", "blkdeviotune", "blkiotune",
            "blockcommit", "blockcopy", "blockjob", "blockpull", "blockresize", "change-media", "console",
            "cpu-stats", "create", "define", "desc", "destroy", "detach-device", "detach-device-alias", "detach-disk",
            "detach-interface", "domdisplay", "domfsfreeze", "domfsthaw", "domfsinfo", "domfstrim", "domhostname",
            "domid", "domif-setlink", "domiftune", "domjobabort", "domjobinfo", "domlaunchsecinfo",
            "domsetlaunchsecstate", "domname", "domrename", "dompmsuspend", "dompmwakeup", "domuuid",
            "domxml-from-native", "domxml-to-native", "dump", "dumpxml", "edit", "get-user-sshkeys", "inject-nmi",
            "iothreadinfo", "iothreadpin", "iothreadadd", "iothreadset", "iothreaddel", "send-key",
            "send-process-signal", "lxc-enter-namespace", "managedsave", "managedsave-remove", "managedsave-edit",
            "managedsave-dumpxml", "managedsave-define", "memtune", "perf", "metadata", "migrate",
            "migrate-setmaxdowntime", "migrate-getmaxdowntime", "migrate-compcache", "migrate-setspeed",
            "migrate-getspeed", "migrate-postcopy", "numatune", "qemu-attach", "qemu-monitor-command",
            "qemu-monitor-event", "qemu-agent-command", "guest-agent-timeout", "reboot", "reset", "restore", "resume",
            "save", "save-image-define", "save-image-dumpxml", "save-image-edit", "schedinfo", "screenshot",
            "set-lifecycle-action", "set-user-sshkeys", "set-user-password", "setmaxmem", "setmem", "setvcpus",
            "shutdown", "start", "suspend", "ttyconsole", "undefine", "update-device", "update-memory-device",
            "vcpucount", "vcpuinfo", "vcpupin", "emulatorpin", "vncdisplay", "guestvcpus", "setvcpu",
            "domblkthreshold", "guestinfo", "domdirtyrate-calc", "dom-fd-associate",
        ],
        "monitor": [
            "domblkerror", "domblkinfo", "domblklist", "domblkstat", "domcontrol", "domif-getlink", "domifaddr",
            "domiflist", "domifstat", "dominfo", "dommemstat", "domstate", "domstats", "domtime", "list",
        ],
        "events": [
            "event",
        ],
        "host": [
            "allocpages", "capabilities", "cpu-baseline", "cpu-compare", "cpu-models", "domcapabilities", "freecell",
            "freepages", "hostname", "hypervisor-cpu-baseline", "hypervisor-cpu-compare", "maxvcpus",
            "node-memory-tune", "nodecpumap", "nodecpustats", "nodeinfo", "nodememstats", "nodesevinfo",
            "nodesuspend", "sysinfo", "uri", "version",
        ],
        "checkpoint": [
            "checkpoint-create", "checkpoint-create-as", "checkpoint-delete", "checkpoint-dumpxml", "checkpoint-edit",
            "checkpoint-info", "checkpoint-list", "checkpoint-parent",
        ],
        "interface": [
            "iface-begin", "iface-bridge", "iface-commit", "iface-define", "iface-destroy", "iface-dumpxml",
            "iface-edit", "iface-list", "iface-mac", "iface-name", "iface-rollback", "iface-start", "iface-unbridge",
            "iface-undefine",
        ],
        "network": [
            "net-autostart", "net-create", "net-define", "net-destroy", "net-dhcp-leases", "net-dumpxml", "net-edit",
            "net-event", "net-info", "net-list", "net-name", "net-start", "net-undefine", "net-update", "net-uuid",
            "net-port-list", "net-port-create", "net-port-dumpxml", "net-port-delete",
        ],
        "nodedev": [
            "nodedev-create", "nodedev-destroy", "nodedev-detach", "nodedev-dumpxml", "nodedev-list",
            "nodedev-reattach", "nodedev-reset", "nodedev-event", "nodedev-define", "nodedev-undefine",
            "nodedev-start", "nodedev-autostart", "nodedev-info",
        ],
        "secret": [
            "secret-define", "secret-dumpxml", "secret-event", "secret-get-value", "secret-list", "secret-set-value",
            "secret-undefine",
        ],
        "snapshot": [
            "snapshot-create", "snapshot-create-as", "snapshot-current", "snapshot-delete", "snapshot-dumpxml",
            "snapshot-edit", "snapshot-info", "snapshot-list", "snapshot-parent", "snapshot-revert",
        ],
        "backup": [
            "backup-begin", "backup-dumpxml",
        ],
        "pool": [
            "find-storage-pool-sources-as", "find-storage-pool-sources", "pool-autostart", "pool-build",
            "pool-create-as", "pool-create", "pool-define-as", "pool-define", "pool-delete", "pool-destroy",
            "pool-dumpxml", "pool-edit", "pool-info", "pool-list", "pool-name", "pool-refresh", "pool-start",
            "pool-undefine", "pool-uuid", "pool-event", "pool-capabilities",
        ],
        "volume": [
            "vol-clone", "vol-create-as", "vol-create", "vol-create-from", "vol-delete", "vol-download",
            "vol-dumpxml", "vol-info", "vol-key", "vol-list", "vol-name", "vol-path", "vol-pool", "vol-resize",
            "vol-upload", "vol-wipe",
        ],
        "virsh": [
            "cd", "echo", "exit", "help", "pwd", "quit", "connect",
        ],
    ]
}
