/// `virConnectGetCPUModelNames` as libvirt 9.0 answers it: the CPU models of libvirt's own CPU map (cpu_map/index.xml)
/// for the architecture's CPU driver, in the map's order. It does not depend on the hypervisor: the QEMU and the
/// test driver give the same list.
public enum CPUModelNames {
    /// libvirt 9.0's x86 CPU map (i686 and x86_64).
    public static let x86: [String] = [
        "486", "pentium", "pentium2", "pentium3", "pentiumpro", "coreduo", "n270", "core2duo", "qemu32", "kvm32",
        "cpu64-rhel5", "cpu64-rhel6", "qemu64", "kvm64", "Conroe", "Penryn", "Nehalem", "Nehalem-IBRS", "Westmere",
        "Westmere-IBRS", "SandyBridge", "SandyBridge-IBRS", "IvyBridge", "IvyBridge-IBRS", "Haswell-noTSX",
        "Haswell-noTSX-IBRS", "Haswell", "Haswell-IBRS", "Broadwell-noTSX", "Broadwell-noTSX-IBRS", "Broadwell",
        "Broadwell-IBRS", "Skylake-Client", "Skylake-Client-IBRS", "Skylake-Client-noTSX-IBRS", "Skylake-Server",
        "Skylake-Server-IBRS", "Skylake-Server-noTSX-IBRS", "Cascadelake-Server", "Cascadelake-Server-noTSX",
        "Icelake-Client", "Icelake-Client-noTSX", "Icelake-Server", "Icelake-Server-noTSX", "Cooperlake",
        "Snowridge", "athlon", "phenom", "Opteron_G1", "Opteron_G2", "Opteron_G3", "Opteron_G4", "Opteron_G5",
        "EPYC", "EPYC-IBPB", "EPYC-Rome", "EPYC-Milan", "Dhyana",
    ]

    /// libvirt 9.0's ppc64 CPU map (ppc64 and ppc64le).
    public static let ppc64: [String] = [
        "POWER6", "POWER7", "POWER8", "POWER9", "POWER10", "POWERPC_e5500", "POWERPC_e6500",
    ]

    /// The architecture names libvirt 9.0 knows (`virArchFromString`).
    static let knownArchs: Set<String> = [
        "alpha", "armv6l", "armv7l", "armv7b", "aarch64", "cris", "i686", "ia64", "lm32", "m68k", "microblaze",
        "microblazeel", "mips", "mipsel", "mips64", "mips64el", "openrisc", "parisc", "parisc64", "ppc", "ppcle",
        "ppc64", "ppc64le", "ppcemb", "riscv32", "riscv64", "s390", "s390x", "sh4", "sh4eb", "sparc", "sparc64",
        "unicore32", "x86_64", "xtensa", "xtensaeb",
    ]

    /// Architectures whose CPU driver accepts any model and lists none (s390 and ARM in libvirt 9.0).
    static let anyModel: Set<String> = ["s390", "s390x", "armv6l", "armv7l", "armv7b", "aarch64"]

    /// The model names for `arch`; an empty list means every model is accepted. An unknown architecture fails
    /// with "cannot find architecture" in the driver's error domain, one without a CPU driver with NO_SUPPORT
    /// from the CPU driver, as libvirt's.
    public static func names(arch: String, driverDomain: VirtError.ErrorDomain) throws(VirtError) -> [String] {
        guard knownArchs.contains(arch) else {
            throw VirtError.invalidArg("cannot find architecture \(arch)", domain: driverDomain)
        }
        switch arch {
        case "i686", "x86_64": return x86
        case "ppc64", "ppc64le": return ppc64
        case _ where anyModel.contains(arch): return []
        default:
            let detail = "'\(arch)' architecture is not supported by CPU driver"
            throw VirtError(.noSupport, domain: .cpu,
                            "this function is not supported by the connection driver: \(detail)", str1: detail)
        }
    }
}
