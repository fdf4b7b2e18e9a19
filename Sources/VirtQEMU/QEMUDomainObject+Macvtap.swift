import Foundation
import Synchronization
import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// `<interface type='direct'>`: a macvtap device on the host link `<source dev>`, in the interface's `mode`
/// (vepa by default), with the guest's own MAC, named `macvtapN` (the lowest number free) unless `<target dev>`
/// names it (a name with libvirt's reserved prefixes macvtap/macvlan is generated anew, as libvirt does). QEMU gets
/// the descriptor of its character device `/dev/tapIFINDEX`, as from libvirt's qemuInterfaceDirectConnect.
enum MacvtapNames {
    private static let lock = Mutex(())

    /// Runs `create` with candidate names from the lowest free `macvtapN` until one is created.
    static func create(_ create: (String) -> Bool) -> String? {
        lock.withLock { _ in
            for n in 0..<8192 {
                let name = "macvtap\(n)"
                if access("/sys/class/net/\(name)", F_OK) == 0 { continue }
                if create(name) { return name }
                // Someone else took it between the check and the creation: try the next.
                if access("/sys/class/net/\(name)", F_OK) != 0 { return nil }
            }
            return nil
        }
    }
}

extension QEMUDomainObject {
    /// Creates the macvtap device of a direct interface and opens its character device; recorded in
    /// ``tapDevices`` (deleted at stop). The caller owns the descriptor.
    func createMacvtap(_ n: NetInterface) throws(VirtError) -> (name: String, fd: Int32) {
        guard let link = n.source["dev"], !link.isEmpty else {
            throw VirtError.configUnsupported("direct interface has no source device", domain: .qemu)
        }
        guard access("/sys/class/net/\(link)", F_OK) == 0 else {
            throw VirtError.systemError("Unable to get index for interface \(link)", errno: ENODEV, domain: .qemu)
        }
        let mode = n.source["mode"] ?? "vepa"
        var ip = "/usr/sbin/ip"
        if access(ip, X_OK) != 0 { ip = "/sbin/ip" }
        var failure = ""
        func add(_ name: String) -> Bool {
            let r = ChildCommand.run([ip, "link", "add", "link", link, "name", name, "address", n.mac.description,
                                      "type", "macvtap", "mode", mode])
            if r?.status == 0 { return true }
            failure = (r?.stderr ?? "").split(separator: "\n").first.map(String.init) ?? ""
            return false
        }
        let given = n.targetDev.flatMap { t -> String? in
            t.isEmpty || t.contains("%d") || t.hasPrefix("macvtap") || t.hasPrefix("macvlan") ? nil : t
        }
        let made: String?
        if let given {
            made = add(given) ? given : nil
        } else {
            made = MacvtapNames.create(add)
        }
        guard let name = made else {
            throw VirtError.internalError("error creating macvtap interface \(given ?? "macvtap%d")@\(link) "
                                          + "(\(n.mac.description)): \(failure)", domain: .qemu)
        }
        tapDevices.append(name)
        if n.linkUp != false {
            _ = ChildCommand.run([ip, "link", "set", "dev", name, "up"])
        }
        // Its character device appears once the kernel has registered it (devtmpfs).
        guard let index = LinuxSys.readFile("/sys/class/net/\(name)/ifindex")?
            .trimmingCharacters(in: .whitespacesAndNewlines) else {
            removeTap(name)
            throw VirtError.systemError("cannot read the index of '\(name)'", errno: ENODEV, domain: .qemu)
        }
        let dev = "/dev/tap\(index)"
        var fd: Int32 = -1
        for _ in 0..<50 {
            fd = open(dev, O_RDWR | O_CLOEXEC)
            if fd >= 0 || errno != ENOENT { break }
            usleep(20_000)
        }
        guard fd >= 0 else {
            let e = errno
            removeTap(name)
            throw VirtError.systemError("cannot open macvtap tap device \(dev)", errno: e, domain: .qemu)
        }
        // A macvtap device shares the guest's view of the traffic: its bandwidth is not swapped.
        do throws(VirtError) {
            try NetDevBandwidth.set(name, actualBandwidth(n), hierarchical: false, swapped: false)
        } catch {
            close(fd)
            removeTap(name)
            throw error
        }
        return (name, fd)
    }
}
