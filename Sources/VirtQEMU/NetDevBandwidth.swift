import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// Traffic shaping of a host network device with iproute2's `tc`, as libvirt 9.0 does it
/// (`virnetdevbandwidth.c`): the direction that leaves the device through its transmit queue becomes an HTB root
/// qdisc with one class (rate = average, ceil = peak, burst, a quantum from the rate), an SFQ leaf qdisc and a
/// catch-all `fw` filter; the direction that enters it becomes an ingress qdisc with a `u32` filter that polices
/// everything to the average (burst = the given one, else the average) and drops the rest.
///
/// A tap's transmit queue carries what the guest receives, so a domain's interface is shaped "swapped"
/// (inbound on the tap's root, outbound on its ingress); a network's bridge is shaped the same way round
/// (inbound is what the bridge sends towards the guests) and hierarchically (class 1:1 for the whole network,
/// 1:2 below it for the traffic with no guaranteed floor, the default class). Floors (the per-port classes on
/// the bridge) are not applied.
public enum NetDevBandwidth {
    /// The tc binary libvirt runs.
    static var tc: String {
        for p in ["/usr/sbin/tc", "/sbin/tc"] where access(p, X_OK) == 0 { return p }
        return "/usr/sbin/tc"
    }

    /// Runs one tc command as libvirt's `virCommandRun` reports a failure ("Child process (tc …) unexpected exit
    /// status N: STDERR", no error domain).
    static func run(_ args: [String]) throws(VirtError) {
        let line = (["tc"] + args).joined(separator: " ")
        guard let r = ChildCommand.run([tc] + args) else {
            throw VirtError.internalError("Child process (\(line)) unexpected exit status 127", domain: .none)
        }
        if r.status != 0 {
            let err = r.stderr.isEmpty ? "" : ": " + r.stderr
            throw VirtError.internalError("Child process (\(line)) unexpected exit status \(r.status)\(err)",
                                          domain: .none)
        }
    }

    /// Runs one tc command whose failure does not matter; its exit status.
    @discardableResult
    static func runQuietly(_ args: [String]) -> Int32 {
        ChildCommand.run([tc] + args)?.status ?? 127
    }

    /// libvirt's quantum for an HTB class: the average in bytes per second over an MTU of 1500 (at least 1, at
    /// most UINT32_MAX).
    static func quantum(_ r: NetBandwidthRate) -> [String] {
        var q = r.average &* 1024 / 8 / 1500
        if q == 0 { q = 1 }
        return ["quantum", String(min(q, UInt64(UInt32.max)))]
    }

    /// `virNetDevBandwidthClear`: the root and ingress qdiscs deleted (failures ignored).
    public static func clear(_ ifname: String) {
        runQuietly(["qdisc", "del", "dev", ifname, "root"])
        runQuietly(["qdisc", "del", "dev", ifname, "ingress"])
    }

    /// `virNetDevBandwidthSetRootQDisc(ifname, "noqueue")`: libvirt gives every tap it creates a noqueue root
    /// qdisc instead of the kernel's default (failure ignored).
    public static func setNoQueue(_ ifname: String) {
        runQuietly(["qdisc", "add", "dev", ifname, "root", "handle", "0:", "noqueue"])
    }

    /// `virNetDevBandwidthSet`: replaces whatever shaping `ifname` had by `bandwidth` (nil: nothing is done).
    /// `hierarchical`: the network form (classes 1:1 and 1:2). `swapped`: inbound goes on the device's
    /// transmit side (taps and bridges).
    public static func set(_ ifname: String, _ bandwidth: NetBandwidth?, hierarchical: Bool, swapped: Bool)
        throws(VirtError) {
        guard let bandwidth else { return }
        if geteuid() != 0 {
            throw VirtError(.operationUnsupported, domain: .none,
                            "Operation not supported: Network bandwidth tuning is not available in session mode")
        }
        let rx = swapped ? bandwidth.outbound : bandwidth.inbound
        let tx = swapped ? bandwidth.inbound : bandwidth.outbound
        clear(ifname)
        if let tx, tx.average != 0 {
            let average = "\(tx.average)kbps"
            let peak = tx.peak != 0 ? "\(tx.peak)kbps" : nil
            let burst = tx.burst != 0 ? "\(tx.burst)kb" : nil
            try run(["qdisc", "add", "dev", ifname, "root", "handle", "1:", "htb", "default", hierarchical ? "2" : "1"])
            if hierarchical {
                try run(["class", "add", "dev", ifname, "parent", "1:", "classid", "1:1", "htb", "rate", average,
                         "ceil", peak ?? average] + quantum(tx))
            }
            var cls = ["class", "add", "dev", ifname, "parent", hierarchical ? "1:1" : "1:", "classid",
                       hierarchical ? "1:2" : "1:1", "htb", "rate", average]
            if let peak { cls += ["ceil", peak] }
            if let burst { cls += ["burst", burst] }
            try run(cls + quantum(tx))
            try run(["qdisc", "add", "dev", ifname, "parent", hierarchical ? "1:2" : "1:1", "handle", "2:", "sfq",
                     "perturb", "10"])
            try run(["filter", "add", "dev", ifname, "parent", "1:0", "protocol", "all", "prio", "1", "handle", "1",
                     "fw", "flowid", "1"])
        }
        if let rx {
            // tc keeps the burst in bytes in 32 bits: without a burst, the average (in KiB) capped to fit.
            let burst = rx.burst != 0 ? rx.burst : min(rx.average, UInt64(UInt32.max) / 1024)
            try run(["qdisc", "add", "dev", ifname, "ingress"])
            try run(["filter", "add", "dev", ifname, "parent", "ffff:", "protocol", "all", "u32", "match", "u32", "0",
                     "0", "police", "rate", "\(rx.average)kbps", "burst", "\(burst)kb", "mtu", "64kb", "drop",
                     "flowid", ":1"])
        }
    }
}

/// Guaranteed minimum bandwidth (`floor`) on a network's bridge: one HTB class per port with a floor under the
/// network's class 1:1, with an SFQ qdisc and a u32 filter on the guest's MAC address; the class 1:2 of the
/// traffic without a floor keeps what the floors leave (libvirt's virNetDevBandwidthPlug, Unplug, UpdateRate).
extension NetDevBandwidth {
    /// The ceiling of the network's classes: its inbound peak, else its average.
    static func ceil(_ net: NetBandwidthRate) -> String { "\(net.peak != 0 ? net.peak : net.average)kbps" }

    /// `virNetDevBandwidthPlug`: class 1:ID (rate the floor, quantum from the interface's average), its SFQ
    /// qdisc ID:, and the filter 800::(800+ID) sending the MAC's frames there.
    public static func plug(bridge: String, network net: NetBandwidthRate, mac: MACAddress, port: NetBandwidthRate,
                            id: UInt32) throws(VirtError) {
        let cls = "1:" + String(id, radix: 16)
        try run(["class", "add", "dev", bridge, "parent", "1:1", "classid", cls, "htb", "rate", "\(port.floor)kbps",
                 "ceil", ceil(net)] + quantum(port))
        try run(["qdisc", "add", "dev", bridge, "parent", cls, "handle", String(id, radix: 16) + ":", "sfq", "perturb",
                 "10"])
        let b = mac.bytes.map { v in v < 16 ? "0" + String(v, radix: 16) : String(v, radix: 16) }
        try run(["filter", "add", "dev", bridge, "protocol", "ip", "prio", "2", "handle", "800::\(800 + id)", "u32",
                 "match", "u16", "0x0800", "0xffff", "at", "-2",
                 "match", "u32", "0x" + b[2] + b[3] + b[4] + b[5], "0xffffffff", "at", "-12",
                 "match", "u16", "0x" + b[0] + b[1], "0xffff", "at", "-14", "flowid", cls])
    }

    /// `virNetDevBandwidthUnplug`: the port's qdisc, filter and class removed (failures ignored).
    public static func unplug(bridge: String, id: UInt32) {
        runQuietly(["qdisc", "del", "dev", bridge, "handle", String(id, radix: 16) + ":"])
        runQuietly(["filter", "del", "dev", bridge, "prio", "2", "handle", "800::\(800 + id)", "u32"])
        runQuietly(["class", "del", "dev", bridge, "classid", "1:" + String(id, radix: 16)])
    }

    /// `virNetDevBandwidthUpdateRate`: class 1:ID's rate changed (ceil and quantum from the network's inbound).
    public static func updateRate(bridge: String, id: UInt32, network net: NetBandwidthRate, rate: UInt64)
        throws(VirtError) {
        try run(["class", "change", "dev", bridge, "classid", "1:" + String(id, radix: 16), "htb", "rate",
                 "\(rate)kbps", "ceil", ceil(net)] + quantum(net))
    }
}
