import CSpawn

/// The host CPU's features as the CPUID instruction reports them, the way libvirt reads the host CPU for the
/// capabilities XML (it executes CPUID; it does not read /proc/cpuinfo). Linux hides some bits the CPU
/// reports: OSXSAVE never appears among its flags, and a kernel may clear one it distrusts (RDSEED on AMD
/// family 1Ah, where the instruction has an erratum) although CPUID still sets it and libvirt lists it.
///
/// The table holds the architectural bit positions (Intel SDM and AMD APM CPUID tables) of the features
/// libvirt 9.0's x86 map knows in these leaves, named as libvirt and QEMU spell them.
enum HostCPUID {
    enum Register: Int { case eax = 0, ebx, ecx, edx }

    struct Word {
        var leaf: UInt32
        var subleaf: UInt32
        var register: Register
        /// Bit number → feature name.
        var bits: [Int: String]
    }

    static let words: [Word] = [
        Word(leaf: 1, subleaf: 0, register: .edx, bits: [
            0: "fpu", 1: "vme", 2: "de", 3: "pse", 4: "tsc", 5: "msr", 6: "pae", 7: "mce", 8: "cx8", 9: "apic",
            11: "sep", 12: "mtrr", 13: "pge", 14: "mca", 15: "cmov", 16: "pat", 17: "pse36", 18: "pn",
            19: "clflush", 21: "ds", 22: "acpi", 23: "mmx", 24: "fxsr", 25: "sse", 26: "sse2", 27: "ss", 28: "ht",
            29: "tm", 30: "ia64", 31: "pbe"]),
        Word(leaf: 1, subleaf: 0, register: .ecx, bits: [
            0: "pni", 1: "pclmulqdq", 2: "dtes64", 3: "monitor", 4: "ds-cpl", 5: "vmx", 6: "smx", 7: "est", 8: "tm2",
            9: "ssse3", 10: "cid", 12: "fma", 13: "cx16", 14: "xtpr", 15: "pdcm", 17: "pcid", 18: "dca",
            19: "sse4.1", 20: "sse4.2", 21: "x2apic", 22: "movbe", 23: "popcnt", 24: "tsc-deadline", 25: "aes",
            26: "xsave", 27: "osxsave", 28: "avx", 29: "f16c", 30: "rdrand", 31: "hypervisor"]),
        Word(leaf: 6, subleaf: 0, register: .eax, bits: [2: "arat"]),
        Word(leaf: 7, subleaf: 0, register: .ebx, bits: [
            0: "fsgsbase", 1: "tsc-adjust", 2: "sgx", 3: "bmi1", 4: "hle", 5: "avx2", 7: "smep", 8: "bmi2",
            9: "erms", 10: "invpcid", 11: "rtm", 12: "cmt", 14: "mpx", 16: "avx512f", 17: "avx512dq", 18: "rdseed",
            19: "adx", 20: "smap", 21: "avx512ifma", 22: "pcommit", 23: "clflushopt", 24: "clwb", 25: "intel-pt",
            26: "avx512pf", 27: "avx512er", 28: "avx512cd", 29: "sha-ni", 30: "avx512bw", 31: "avx512vl"]),
        Word(leaf: 7, subleaf: 0, register: .ecx, bits: [
            1: "avx512vbmi", 2: "umip", 3: "pku", 4: "ospke", 5: "waitpkg", 6: "avx512vbmi2", 8: "gfni", 9: "vaes",
            10: "vpclmulqdq", 11: "avx512vnni", 12: "avx512bitalg", 14: "avx512-vpopcntdq", 16: "la57",
            22: "rdpid", 25: "cldemote", 27: "movdiri", 28: "movdir64b", 30: "sgxlc", 31: "pks"]),
        Word(leaf: 7, subleaf: 0, register: .edx, bits: [
            2: "avx512-4vnniw", 3: "avx512-4fmaps", 4: "fsrm", 8: "avx512-vp2intersect", 10: "md-clear",
            14: "serialize", 16: "tsx-ldtrk", 18: "pconfig", 19: "arch-lbr", 22: "amx-bf16", 23: "avx512-fp16",
            24: "amx-tile", 25: "amx-int8", 26: "spec-ctrl", 27: "stibp", 29: "arch-capabilities",
            30: "core-capability", 31: "ssbd"]),
        Word(leaf: 7, subleaf: 1, register: .eax, bits: [4: "avx-vnni", 5: "avx512-bf16"]),
        Word(leaf: 0xD, subleaf: 1, register: .eax, bits: [0: "xsaveopt", 1: "xsavec", 2: "xgetbv1", 3: "xsaves", 4: "xfd"]),
        Word(leaf: 0x8000_0001, subleaf: 0, register: .edx, bits: [
            11: "syscall", 20: "nx", 22: "mmxext", 25: "fxsr-opt", 26: "pdpe1gb", 27: "rdtscp", 29: "lm",
            30: "3dnowext", 31: "3dnow"]),
        Word(leaf: 0x8000_0001, subleaf: 0, register: .ecx, bits: [
            0: "lahf-lm", 1: "cmp-legacy", 2: "svm", 3: "extapic", 4: "cr8legacy", 5: "abm", 6: "sse4a",
            7: "misalignsse", 8: "3dnowprefetch", 9: "osvw", 10: "ibs", 11: "xop", 12: "skinit", 13: "wdt",
            15: "lwp", 16: "fma4", 17: "tce", 19: "nodeid-msr", 21: "tbm", 22: "topoext", 23: "perfctr-core",
            24: "perfctr-nb"]),
        Word(leaf: 0x8000_0007, subleaf: 0, register: .edx, bits: [8: "invtsc"]),
        Word(leaf: 0x8000_0008, subleaf: 0, register: .ebx, bits: [
            0: "clzero", 2: "xsaveerptr", 9: "wbnoinvd", 12: "ibpb", 14: "ibrs", 15: "amd-stibp", 24: "amd-ssbd",
            25: "virt-ssbd", 26: "amd-no-ssb", 28: "amd-psfd"]),
        Word(leaf: 0x8000_000A, subleaf: 0, register: .edx, bits: [
            0: "npt", 1: "lbrv", 2: "svm-lock", 3: "nrip-save", 4: "tsc-scale", 5: "vmcb-clean", 6: "flushbyasid",
            7: "decodeassists", 10: "pause-filter", 12: "pfthreshold", 13: "avic", 15: "v-vmsave-vmload", 16: "vgif"]),
    ]

    /// The features of `words` whose bit is set, given each word's register values (`read` returns nil for a
    /// leaf the CPU does not have).
    static func features(read: (UInt32, UInt32) -> [UInt32]?) -> [String] {
        var out: [String] = []
        var cache: [UInt64: [UInt32]?] = [:]
        for w in words {
            let key = UInt64(w.leaf) << 32 | UInt64(w.subleaf)
            let regs: [UInt32]?
            if let cached = cache[key] {
                regs = cached
            } else {
                regs = read(w.leaf, w.subleaf)
                cache[key] = regs
            }
            guard let regs, regs.count == 4 else { continue }
            let value = regs[w.register.rawValue]
            for (bit, name) in w.bits.sorted(by: { $0.key < $1.key }) where value & (1 << UInt32(bit)) != 0 {
                out.append(name)
            }
        }
        return out
    }

    /// The features of the CPU this runs on; nil where CPUID is not available (not x86).
    static func hostFeatures() -> [String]? {
        var probe = [UInt32](repeating: 0, count: 4)
        guard swiftvirt_cpuid(0, 0, &probe) == 0 else { return nil }
        return features { leaf, subleaf in
            var regs = [UInt32](repeating: 0, count: 4)
            return swiftvirt_cpuid(leaf, subleaf, &regs) == 0 ? regs : nil
        }
    }
}
