/// The order in which libvirt lists x86 CPU features: by where the feature lives in the CPU, CPUID leaf by
/// leaf (1, 6, 7, 0xD, extended leaves), registers in a fixed order per leaf, bits from low to high, then the
/// bits of the capability MSRs. These are architectural facts (the Intel SDM's and AMD APM's CPUID tables,
/// as QEMU's `feature_word_info` has them), kept here only to order feature lists the way libvirt prints
/// them; which features a model has still comes from QEMU. A name not listed sorts after all listed ones,
/// alphabetically.
public enum CPUFeatureOrder {
    /// Feature names (libvirt's spelling) word by word, each word in bit order.
    static let words: [[String]] = [
        // CPUID 1, EDX
        ["fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", "sep", "mtrr", "pge", "mca", "cmov",
         "pat", "pse36", "pn", "clflush", "ds", "acpi", "mmx", "fxsr", "sse", "sse2", "ss", "ht", "tm", "ia64",
         "pbe"],
        // CPUID 1, ECX
        ["pni", "pclmuldq", "dtes64", "monitor", "ds_cpl", "vmx", "smx", "est", "tm2", "ssse3", "cid", "fma",
         "cx16", "xtpr", "pdcm", "pcid", "dca", "sse4.1", "sse4.2", "x2apic", "movbe", "popcnt", "tsc-deadline",
         "aes", "xsave", "osxsave", "avx", "f16c", "rdrand", "hypervisor"],
        // CPUID 6, EAX
        ["arat"],
        // CPUID 7.0, EBX
        ["fsgsbase", "tsc_adjust", "sgx", "bmi1", "hle", "avx2", "fdp-excptn-only", "smep", "bmi2", "erms",
         "invpcid", "rtm", "cmt", "zero-fcs-fds", "mpx", "rdt-a", "avx512f", "avx512dq", "rdseed", "adx", "smap",
         "avx512ifma", "pcommit", "clflushopt", "clwb", "intel-pt", "avx512pf", "avx512er", "avx512cd", "sha-ni",
         "avx512bw", "avx512vl"],
        // CPUID 7.0, ECX
        ["prefetchwt1", "avx512vbmi", "umip", "pku", "ospke", "waitpkg", "avx512vbmi2", "shstk", "gfni", "vaes",
         "vpclmulqdq", "avx512vnni", "avx512bitalg", "tme", "avx512-vpopcntdq", "la57", "rdpid", "bus-lock-detect",
         "cldemote", "movdiri", "movdir64b", "enqcmd", "sgxlc", "pks"],
        // CPUID 7.0, EDX
        ["avx512-4vnniw", "avx512-4fmaps", "fsrm", "uintr", "avx512-vp2intersect", "srbds-ctrl", "md-clear",
         "tsx-force-abort", "serialize", "hybrid", "tsx-ldtrk", "pconfig", "arch-lbr", "ibt", "amx-bf16",
         "avx512-fp16", "amx-tile", "amx-int8", "spec-ctrl", "stibp", "flush-l1d", "arch-capabilities",
         "core-capability", "ssbd"],
        // CPUID 7.1, EAX
        ["avx-vnni", "avx512-bf16", "fzrm", "fsrs", "fsrc", "amx-fp16", "avx-ifma"],
        // CPUID 0xD.1, EAX
        ["xsaveopt", "xsavec", "xgetbv1", "xsaves", "xfd"],
        // CPUID 0x80000001, EDX
        ["syscall", "nx", "mmxext", "fxsr_opt", "pdpe1gb", "rdtscp", "lm", "3dnowext", "3dnow"],
        // CPUID 0x80000001, ECX
        ["lahf_lm", "cmp_legacy", "svm", "extapic", "cr8legacy", "abm", "sse4a", "misalignsse", "3dnowprefetch",
         "osvw", "ibs", "xop", "skinit", "wdt", "lwp", "fma4", "tce", "nodeid_msr", "tbm", "topoext",
         "perfctr_core", "perfctr_nb"],
        // CPUID 0x80000007, EDX
        ["invtsc"],
        // CPUID 0x80000008, EBX
        ["clzero", "xsaveerptr", "wbnoinvd", "amd-ibpb", "amd-ibrs", "amd-stibp", "ibrs", "amd-ssbd", "virt-ssbd",
         "amd-no-ssb", "amd-psfd"],
        // CPUID 0x8000000A, EDX (SVM)
        ["npt", "lbrv", "svm-lock", "nrip-save", "tsc-scale", "vmcb-clean", "flushbyasid", "decodeassists",
         "pause-filter", "pfthreshold", "avic", "v-vmsave-vmload", "vgif", "vnmi"],
        // CPUID 0x8000001F, EAX
        ["sev", "sev-es"],
        // MSR 0x10A (IA32_ARCH_CAPABILITIES)
        ["rdctl-no", "ibrs-all", "rsba", "skip-l1dfl-vmentry", "ssb-no", "mds-no", "pschange-mc-no", "tsx-ctrl",
         "taa-no", "sbdr-ssdp-no", "fbsdp-no", "psdp-no", "fb-clear", "pbrsb-no"],
        // MSR 0xCF (IA32_CORE_CAPABILITY)
        ["split-lock-detect"],
    ]

    static let rank: [String: Int] = {
        var r: [String: Int] = [:]
        for name in words.joined() where r[name] == nil { r[name] = r.count }
        return r
    }()

    /// `names` in libvirt's order.
    public static func sorted<S: Sequence>(_ names: S) -> [String] where S.Element == String {
        names.sorted { a, b in
            switch (rank[a], rank[b]) {
            case let (x?, y?): x < y
            case (.some, nil): true
            case (nil, .some): false
            case (nil, nil): a < b
            }
        }
    }

    /// QEMU feature names in libvirt's order (ranked by their libvirt spelling).
    public static func sortedQEMUNames<S: Sequence>(_ names: S) -> [String] where S.Element == String {
        let byLibvirt = Dictionary(names.map { (CPUModelDecoder.libvirtName($0), $0) }, uniquingKeysWith: { a, _ in a })
        return sorted(byLibvirt.keys).compactMap { byLibvirt[$0] }
    }
}
