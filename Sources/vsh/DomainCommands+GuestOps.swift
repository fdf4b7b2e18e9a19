import Virt

#if canImport(Glibc)
import Glibc
#endif

/// screenshot and send-key (virsh-domain.c): the guest's screen into a file, keys to the guest.
extension DomainCommands {
    static let guestOpsCommands: [CommandDefinition] = [screenshot, sendKey, dump, iothreadinfo, setvcpus, vcpucount]

    static let screenshot = CommandDefinition(
        "screenshot", summary: "take a screenshot of a current domain console and store it into a file",
        description: "screenshot of a current domain console",
        options: [.domain(), .string("file", "where to store the screenshot"),
                  .int("screen", "ID of a screen to take screenshot of")]
    ) { shell, cmd in
        let (ok, fileOption) = shell.stringOption(cmd, "file")
        guard ok else { return false }
        let (screenOK, screen) = HostCommands.uintOption(shell, cmd, "screen")
        guard screenOK else { return false }
        guard let dom = await shell.domainOption(cmd) else { return false }
        let name = cmd.value("domain") ?? dom.name
        guard let (mime, stream) = await shell.call({ try await dom.screenshot(screen: screen ?? 0) }) else {
            shell.error("could not take a screenshot of \(name)")
            return false
        }
        let file = fileOption ?? generatedName(dom.name, mime: mime)
        var created = true
        var fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        if fd < 0 {
            created = false
            if errno == EEXIST { fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC, 0o666) }
            guard fd >= 0 else {
                await stream.abort()
                shell.error("cannot create file \(file)")
                return false
            }
        }
        var done = false
        defer {
            if fd >= 0 { close(fd) }
            if !done && created { unlink(file) }
        }
        guard await shell.receive(stream, into: fd) else {
            shell.error("could not receive data from domain \(name)")
            return false
        }
        let closed = close(fd)
        fd = -1
        if closed != 0 {
            shell.error("cannot close file \(file)")
            return false
        }
        guard await shell.call({ try await stream.finish() }) != nil else {
            shell.error("cannot close stream on domain \(name)")
            return false
        }
        done = true
        shell.printExtra("Screenshot saved to \(file), with type of \(mime)")
        return true
    }

    /// virsh's `virshGenFileName`: NAME-YYYY-MM-DD-HH:MM:SS with the extension of the MIME type.
    static func generatedName(_ name: String, mime: String) -> String {
        let ext = mime == "image/x-portable-pixmap" ? ".ppm" : mime == "image/png" ? ".png" : ""
        var now = time(nil)
        var tm = tm()
        localtime_r(&now, &tm)
        var buf = [CChar](repeating: 0, count: 100)
        let n = strftime(&buf, buf.count, "%Y-%m-%d-%H:%M:%S", &tm)
        let stamp = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "\(name)-\(stamp)\(ext)"
    }

    static let sendKey = CommandDefinition(
        "send-key", summary: "Send keycodes to the guest",
        description: "Send keycodes (integers or symbolic names) to the guest",
        options: [.domain(), .string("codeset", "the codeset of keycodes, default:linux", requiresName: true),
                  OptionDefinition(name: "holdtime", kind: .int, requiresName: true,
                                   help: "the time (in milliseconds) how long the keys will be held"),
                  .argv("keycode", "the key code", required: true)]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (ok, codesetOption) = shell.stringOption(cmd, "codeset")
        guard ok else { return false }
        let (holdOK, holdtime) = HostCommands.intOption(shell, cmd, "holdtime")
        guard holdOK else { return false }
        // The qnum code set was first called rfb; virsh still accepts that name.
        var setName = codesetOption ?? "linux"
        if setName == "rfb" { setName = "qnum" }
        guard let codeset = KeycodeSet(name: setName) else {
            shell.error("unknown codeset: '\(setName)'")
            return false
        }
        var keycodes: [UInt32] = []
        for text in cmd.values("keycode") {
            if keycodes.count == KeycodeSet.maxKeys {
                shell.error("too many keycodes")
                return false
            }
            guard let key = keycodeNumber(text) ?? codeset.value(named: text) else {
                shell.error("invalid keycode: '\(text)'")
                return false
            }
            keycodes.append(key)
        }
        return await shell.call({
            try await dom.sendKey(codeset: codeset, holdtime: UInt32(bitPattern: holdtime ?? 0), keycodes: keycodes)
        }) != nil
    }

    /// virsh's `virshKeyCodeGetInt`: an unsigned number in C notation (decimal, 0x hex, 0 octal) up to 0xffff.
    static func keycodeNumber(_ text: String) -> UInt32? {
        guard !text.isEmpty else { return nil }
        var end: UnsafeMutablePointer<CChar>?
        errno = 0
        let value = text.withCString { p -> UInt in
            let v = strtoul(p, &end, 0)
            return end.map { $0 == p || $0.pointee != 0 } == false ? v : UInt.max
        }
        guard errno == 0, value <= 0xffff else { return nil }
        return UInt32(value)
    }
}

extension DomainCommands {
    static let dump = CommandDefinition(
        "dump", summary: "dump the core of a domain to a file for analysis",
        description: "Core dump a domain.",
        options: [
            .domain(), .data("file", "where to dump the core"),
            .flag("live", "perform a live core dump if supported"),
            .flag("crash", "crash the domain after core dump"),
            .flag("bypass-cache", "avoid file system cache when dumping"),
            .flag("reset", "reset the domain after core dump"),
            .flag("verbose", "display the progress of dump"),
            .flag("memory-only", "dump domain's memory only"),
            .string("format", "specify the format of memory-only dump"),
        ]
    ) { shell, cmd in
        guard let dom = await shell.domainOption(cmd) else { return false }
        let name = cmd.value("domain") ?? dom.name
        let (ok, file) = shell.stringOption(cmd, "file")
        guard ok, let file else { return false }
        var flags: UInt32 = 0
        for (option, flag) in [("live", CoreDump.live), ("crash", CoreDump.crash), ("bypass-cache", CoreDump.bypassCache),
                               ("reset", CoreDump.reset), ("memory-only", CoreDump.memoryOnly)] where cmd.has(option) {
            flags |= flag
        }
        var format: UInt32?
        if cmd.has("format") {
            guard flags & CoreDump.memoryOnly != 0 else {
                shell.error("--format only works with --memory-only")
                return false
            }
            let text = cmd.value("format") ?? ""
            guard let i = CoreDump.formatNames.firstIndex(of: text) else {
                shell.error("format '\(text)' is not supported, expecting 'kdump-zlib', 'kdump-lzo', 'kdump-snappy', "
                            + "'win-dmp' or 'elf'")
                return false
            }
            // virsh calls virDomainCoreDump for the raw (ELF) format.
            format = i == 0 ? nil : UInt32(i)
        }
        let progress = cmd.has("verbose") ? startProgress(shell, dom, label: "Dump") : nil
        let done = await shell.call({ try await dom.coreDump(to: file, format: format, flags: flags) }) != nil
        await progress?.finish(done)
        if !done {
            shell.error("Failed to core dump domain '\(name)' to \(file)")
            return false
        }
        shell.printExtra("\nDomain '\(name)' dumped to \(file)\n")
        return true
    }
}

extension DomainCommands {
    static let iothreadinfo = CommandDefinition(
        "iothreadinfo", summary: "view domain IOThreads",
        description: "Returns basic information about the domain IOThreads.",
        options: [.domain(), .flag("config", "affect next boot"), .flag("live", "affect running domain"),
                  .flag("current", "affect current domain")]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "current", "live"), shell.exclusive(cmd, "current", "config") else { return false }
        var flags: ModificationImpact = []
        if cmd.has("config") { flags.insert(.config) }
        if cmd.has("live") { flags.insert(.live) }
        guard let dom = await shell.domainOption(cmd) else { return false }
        guard let info = await shell.call({ try await dom.iothreadInfo(flags: flags) }) else {
            shell.error("Unable to get domain IOThreads information")
            return false
        }
        if info.isEmpty {
            shell.printExtra("No IOThreads found for the domain")
            return true
        }
        var table = Table(header: ["IOThread ID", "CPU Affinity"])
        for t in info { table.append(["\(t.id)", CPUMap.set(t.cpumap).description]) }
        shell.print(table.render(header: !shell.quiet))
        return true
    }
}

/// setvcpus and vcpucount (virsh-domain.c).
extension DomainCommands {
    static let setvcpus = CommandDefinition(
        "setvcpus", summary: "change number of virtual CPUs",
        description: "Change the number of virtual CPUs in the guest domain.",
        options: [
            .domain(), OptionDefinition(name: "count", kind: .int, required: true, help: "number of virtual CPUs"),
            .flag("maximum", "set maximum limit on next boot"), .flag("config", "affect next boot"),
            .flag("live", "affect running domain"), .flag("current", "affect current domain"),
            .flag("guest", "modify cpu state in the guest"), .flag("hotpluggable", "make added vcpus hot(un)pluggable"),
        ]
    ) { shell, cmd in
        guard shell.exclusive(cmd, "current", "live"), shell.exclusive(cmd, "current", "config"),
              shell.exclusive(cmd, "guest", "config") else { return false }
        if cmd.has("maximum") && !cmd.has("config") {
            shell.error("Option --config is required by option --maximum")
            return false
        }
        var flags: ModificationImpact = []
        for (option, flag) in [("config", ModificationImpact.config), ("live", .live), ("guest", .vcpuGuest),
                               ("maximum", .maximum), ("hotpluggable", .vcpuHotpluggable)] where cmd.has(option) {
            flags.insert(flag)
        }
        guard let dom = await shell.domainOption(cmd) else { return false }
        let (ok, count) = HostCommands.uintOption(shell, cmd, "count")
        guard ok, let count else { return false }
        if count == 0 {
            shell.error("Can't set 0 processors for a VM")
            return false
        }
        // Without any option virsh calls virDomainSetVcpus, which libvirt's drivers run on the live domain.
        if !cmd.has("current") && flags.isEmpty { flags = .live }
        return await shell.call({ try await dom.setVcpus(UInt32(count), flags: flags) }) != nil
    }

    static let vcpucount = CommandDefinition(
        "vcpucount", summary: "domain vcpu counts",
        description: "Returns the number of virtual CPUs used by the domain.",
        options: [
            .domain(), .flag("maximum", "get maximum count of vcpus"),
            .flag("active", "get number of currently active vcpus"), .flag("live", "get value from running domain"),
            .flag("config", "get value to be used on next boot"),
            .flag("current", "get value according to current domain state"),
            .flag("guest", "retrieve vcpu count from the guest instead of the hypervisor"),
        ]
    ) { shell, cmd in
        let maximum = cmd.has("maximum")
        var current = cmd.has("current"), active = cmd.has("active")
        let all = !["maximum", "active", "live", "config", "current", "guest"].contains { cmd.has($0) }
        // virsh's compatibility rule: before 0.9.4 --current meant --active (the opposite of --maximum).
        if !maximum && !active && current {
            current = false
            active = true
        }
        for (a, b, given) in [("current", "live", current && cmd.has("live")),
                              ("current", "config", current && cmd.has("config")),
                              ("active", "maximum", active && maximum),
                              ("guest", "config", cmd.has("guest") && cmd.has("config"))] where given {
            shell.error("Options --\(a) and --\(b) are mutually exclusive")
            return false
        }
        var flags: ModificationImpact = []
        for (option, flag) in [("live", ModificationImpact.live), ("config", .config), ("maximum", .maximum),
                               ("guest", .vcpuGuest)] where cmd.has(option) {
            flags.insert(flag)
        }
        guard let dom = await shell.domainOption(cmd) else { return false }
        // virshCPUCountCollect: -1 when the state does not apply, nil on error.
        func collect(_ f: ModificationImpact, checkState: Bool) async -> Int32? {
            if checkState {
                if f.contains(.live), await shell.call({ try await dom.isActive() }) != true { return -1 }
                if f.contains(.config), await shell.call({ try await dom.isPersistent() }) != true { return -1 }
            }
            return await shell.call({ try await dom.vcpuCount(flags: f) })
        }
        if all {
            var values: [(String, String, Int32)] = []
            for (f, which, state) in [(ModificationImpact([.config, .maximum]), "maximum", "config"),
                                      ([.live, .maximum], "maximum", "live"), (.config, "current", "config"),
                                      (.live, "current", "live")] {
                guard let v = await collect(f, checkState: true) else { return false }
                values.append((which, state, v))
            }
            for (which, state, v) in values where v > 0 {
                shell.print(which.padding(toLength: 12, withPad: " ", startingAt: 0) + " "
                            + state.padding(toLength: 12, withPad: " ", startingAt: 0) + " "
                            + String(repeating: " ", count: max(0, 3 - String(v).count)) + "\(v)\n")
            }
            return true
        }
        guard let count = await collect(flags, checkState: false), count >= 0 else { return false }
        shell.print("\(count)\n")
        return true
    }
}
