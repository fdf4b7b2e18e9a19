// swift-tools-version:6.0
import PackageDescription

/// Release builds link the Swift runtime and Foundation statically into the executables (as
/// `--static-swift-stdlib` does, but for release builds only): only the code a process touches is paged in.
/// The executables are linked with the toolchain's lld (which needs no ordering of the static Foundation
/// libraries that modules compiled against the shared Foundation leave to be named), with packed relative
/// relocations (DT_RELR: the dynamic loader reads 18 KB instead of 2 MB of relocations at start) and
/// without exporting every symbol of the static runtime. With these the daemon's idle RSS goes from about
/// 27 MB to about 19 MB. Only the executable targets carry these flags, so the library stays usable as a
/// dependency; debug builds and `swift test` stay dynamic.
let staticStdlib: [SwiftSetting] = [.unsafeFlags(["-static-stdlib"], .when(configuration: .release))]
let staticStdlibLink: [LinkerSetting] = [
    .unsafeFlags(["-static-stdlib", "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                  "-Xlinker", "--no-export-dynamic",
                  "-lFoundation", "-lFoundationInternationalization", "-l_FoundationICU", "-lFoundationEssentials",
                  "-l_FoundationCShims", "-l_FoundationCollections", "-lCoreFoundation", "-lswiftSynchronization",
                  "-lswiftDispatch", "-ldispatch", "-lBlocksRuntime"],
                 .when(configuration: .release)),
]

let package = Package(
    name: "SwiftVirt",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Virt", targets: ["Virt"]),
        .executable(name: "vsh", targets: ["vsh"]),
        .executable(name: "virtd", targets: ["virtd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]
        ),
        .target(
            name: "VirtCore",
            dependencies: ["CLibXML2"]
        ),
        .target(
            name: "VirtTestDriver",
            dependencies: ["VirtCore"]
        ),
        .target(
            name: "VirtSecrets",
            dependencies: ["VirtCore"]
        ),
        .target(name: "CSpawn"),
        // libvirt's storage driver for the daemon: dir pools on disk, volumes made with qemu-img (issue 13).
        .target(
            name: "VirtStorage",
            dependencies: ["VirtCore", "VirtQEMU"]
        ),
        // libvirt's network driver for the daemon: Linux bridges, dnsmasq, nftables (issue 13).
        .target(
            name: "VirtNetwork",
            dependencies: ["VirtCore", "VirtQEMU"]
        ),
        .target(
            name: "VirtQEMU",
            dependencies: [
                "VirtCore",
                "CSpawn",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "VirtRPC",
            dependencies: [
                "VirtCore",
                "CSpawn",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .target(
            name: "Virt",
            dependencies: ["VirtCore", "VirtTestDriver", "VirtQEMU", "VirtRPC", "VirtSecrets"]
        ),
        .executableTarget(
            name: "vsh",
            dependencies: ["Virt"],
            swiftSettings: staticStdlib,
            linkerSettings: staticStdlibLink
        ),
        .executableTarget(
            name: "virtd",
            dependencies: [
                "Virt",
                "VirtStorage",
                "VirtNetwork",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: staticStdlib,
            linkerSettings: staticStdlibLink
        ),
        // What every test target shares: the child-process runner, the machine checks (KVM, root, the
        // libvirt-qemu user), paths, temp dirs, /proc readers and the tags (.qemu, .kvm, .root, .referenceLibvirtd).
        .target(name: "VirtTestSupport", dependencies: ["VirtQEMU", "CTestPool"], path: "Tests/VirtTestSupport"),
        // The test process's global executor: a pool wider than Swift's one thread per CPU (Tests/CTestPool).
        .target(name: "CTestPool", path: "Tests/CTestPool"),
        .testTarget(name: "VirtCoreTests", dependencies: ["VirtCore", "VirtTestSupport"], exclude: ["Resources"]),
        .testTarget(name: "VirtTestDriverTests", dependencies: ["VirtTestDriver", "Virt", "VirtTestSupport"]),
        .testTarget(name: "VirtRPCTests", dependencies: ["VirtRPC", "Virt", "virtd", "VirtNetwork", "VirtTestSupport",
                                                         .product(name: "NIOEmbedded", package: "swift-nio")],
                    exclude: ["Resources"]),
        .testTarget(name: "VirtQEMUTests", dependencies: ["VirtQEMU", "Virt", "VirtTestSupport"], exclude: ["Resources"]),
        .testTarget(name: "CompatTests", dependencies: ["Virt", "vsh", "VirtTestSupport"]),
    ]
)
