import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A guest architecture as libvirt names it, with the QEMU system emulator that runs it.
public struct QEMUGuestArch: Sendable, Hashable {
    /// libvirt's name (`i686`).
    public var name: String
    /// QEMU's target name, the suffix of `qemu-system-*` (`i386`).
    public var qemuTarget: String
    public var wordSize: Int

    /// The architectures in libvirt's `virArch` order (the order of `<guest>` entries).
    public static let all: [QEMUGuestArch] = [
        .init(name: "armv7l", qemuTarget: "arm", wordSize: 32),
        .init(name: "aarch64", qemuTarget: "aarch64", wordSize: 64),
        .init(name: "i686", qemuTarget: "i386", wordSize: 32),
        .init(name: "mips", qemuTarget: "mips", wordSize: 32),
        .init(name: "mipsel", qemuTarget: "mipsel", wordSize: 32),
        .init(name: "mips64", qemuTarget: "mips64", wordSize: 64),
        .init(name: "mips64el", qemuTarget: "mips64el", wordSize: 64),
        .init(name: "ppc", qemuTarget: "ppc", wordSize: 32),
        .init(name: "ppc64", qemuTarget: "ppc64", wordSize: 64),
        .init(name: "riscv32", qemuTarget: "riscv32", wordSize: 32),
        .init(name: "riscv64", qemuTarget: "riscv64", wordSize: 64),
        .init(name: "s390x", qemuTarget: "s390x", wordSize: 64),
        .init(name: "sparc", qemuTarget: "sparc", wordSize: 32),
        .init(name: "sparc64", qemuTarget: "sparc64", wordSize: 64),
        .init(name: "x86_64", qemuTarget: "x86_64", wordSize: 64),
    ]

    public static func named(_ name: String) -> QEMUGuestArch? { all.first { $0.name == name } }

    /// The arch whose emulator target is `target` (`query-target`'s arch).
    public static func forTarget(_ target: String) -> QEMUGuestArch? { all.first { $0.qemuTarget == target } }

    /// Whether a guest of this arch can run under KVM on a host of `hostArch`.
    public func kvmCompatible(hostArch: String) -> Bool {
        if name == hostArch { return true }
        switch hostArch {
        case "x86_64": return name == "i686"
        case "aarch64": return name == "armv7l"
        default: return false
        }
    }

    /// The emulator binary for this arch, looked up in `PATH` (then /usr/bin), as libvirt does.
    public func findEmulator(path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        let dirs = (path ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/libexec"]
        for d in dirs where !d.isEmpty {
            let p = d + "/qemu-system-" + qemuTarget
            if access(p, X_OK) == 0 { return p }
        }
        return nil
    }
}
