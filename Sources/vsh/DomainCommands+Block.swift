import Virt
import VirtCore

/// Block device commands of virsh-domain.c: blockresize and blkdeviotune.
extension DomainCommands {
    static let blockCommands: [CommandDefinition] = [blockresize, blkdeviotune]

    static let blockresize = CommandDefinition(
        "blockresize", summary: "Resize block device of domain.", description: "Resize block device of domain.",
        options: [
            .domain(),
            .data("path", "Fully-qualified path of block device"),
            OptionDefinition(name: "size", kind: .int, required: true,
                             help: "New size of the block device, as scaled integer (default KiB)"),
        ]
    ) { shell, cmd in
        let path = cmd.value("path") ?? ""
        let text = cmd.value("size") ?? ""
        guard let bytes = AgentCommands.scaledBytes(text, defaultScale: 1024) else {
            shell.error("Scaled numeric value '\(text)' for <size> option is malformed or out of range")
            return false
        }
        guard let dom = await shell.domainOption(cmd) else { return false }
        // virsh prefers the older interface in KiB.
        let kib = bytes % 1024 == 0
        guard await shell.call({ try await dom.blockResize(disk: path, size: kib ? bytes / 1024 : bytes, bytes: !kib) })
            != nil else {
            shell.error("Failed to resize block device '\(path)'")
            shell.reportError()
            return false
        }
        shell.printExtra("Block device '\(path)' is resized")
        return true
    }

    /// blkdeviotune's options after the device: (option, typed parameter, scaled in bytes).
    static let ioTuneOptions: [(option: String, field: String, scaled: Bool, help: String)] = [
        ("total-bytes-sec", "total_bytes_sec", true, "total throughput limit, as scaled integer (default bytes)"),
        ("read-bytes-sec", "read_bytes_sec", true, "read throughput limit, as scaled integer (default bytes)"),
        ("write-bytes-sec", "write_bytes_sec", true, "write throughput limit, as scaled integer (default bytes)"),
        ("total-iops-sec", "total_iops_sec", false, "total I/O operations limit per second"),
        ("read-iops-sec", "read_iops_sec", false, "read I/O operations limit per second"),
        ("write-iops-sec", "write_iops_sec", false, "write I/O operations limit per second"),
        ("total-bytes-sec-max", "total_bytes_sec_max", true, "total max, as scaled integer (default bytes)"),
        ("read-bytes-sec-max", "read_bytes_sec_max", true, "read max, as scaled integer (default bytes)"),
        ("write-bytes-sec-max", "write_bytes_sec_max", true, "write max, as scaled integer (default bytes)"),
        ("total-iops-sec-max", "total_iops_sec_max", false, "total I/O operations max"),
        ("read-iops-sec-max", "read_iops_sec_max", false, "read I/O operations max"),
        ("write-iops-sec-max", "write_iops_sec_max", false, "write I/O operations max"),
        ("size-iops-sec", "size_iops_sec", false, "I/O size in bytes"),
        ("group-name", "group_name", false, "group name to share I/O quota between multiple drives"),
        ("total-bytes-sec-max-length", "total_bytes_sec_max_length", false,
         "duration in seconds to allow total max bytes"),
        ("read-bytes-sec-max-length", "read_bytes_sec_max_length", false, "duration in seconds to allow read max bytes"),
        ("write-bytes-sec-max-length", "write_bytes_sec_max_length", false,
         "duration in seconds to allow write max bytes"),
        ("total-iops-sec-max-length", "total_iops_sec_max_length", false,
         "duration in seconds to allow total I/O operations max"),
        ("read-iops-sec-max-length", "read_iops_sec_max_length", false,
         "duration in seconds to allow read I/O operations max"),
        ("write-iops-sec-max-length", "write_iops_sec_max_length", false,
         "duration in seconds to allow write I/O operations max"),
    ]

    static let blkdeviotune = CommandDefinition(
        "blkdeviotune", summary: "Set or query a block device I/O tuning parameters.",
        description: "Set or query disk I/O parameters such as block throttling.",
        options: [.domain(), .data("device", "block device")]
            + ioTuneOptions.flatMap { o -> [OptionDefinition] in
                let own = OptionDefinition(name: o.option, kind: o.field == "group_name" ? .string : .int,
                                           requiresName: true, help: o.help)
                // virsh 9.0 still accepts the old underscore spellings of the first twelve.
                return o.option.hasSuffix("-length") || o.field == "size_iops_sec" || o.field == "group_name"
                    ? [own] : [.alias(o.field, of: o.option), own]
            }
            + [.flag("config", "affect next boot"), .flag("live", "affect running domain"),
               .flag("current", "affect current domain")]
    ) { shell, cmd in
        let (ok, flags, _) = Self.flags(shell, cmd)
        guard ok, let dom = await shell.domainOption(cmd) else { return false }
        let disk = cmd.value("device") ?? ""
        var params: [TypedParam] = []
        for o in ioTuneOptions {
            guard let text = cmd.value(o.option) else { continue }
            if o.field == "group_name" {
                params.append(TypedParam(o.field, .string(text)))
                continue
            }
            let v = o.scaled ? AgentCommands.scaledBytes(text, defaultScale: 1) : UInt64(text)
            guard let v else {
                shell.error("\(o.scaled ? "Scaled numeric" : "Numeric") value '\(text)' for <\(o.option)> option "
                            + "is malformed or out of range")
                shell.error("Unable to parse integer parameter")
                // As virsh: the number read, only its suffix wrong, leaves libvirt's error to be reported.
                if o.scaled, let i = text.firstIndex(where: { !$0.isNumber }), i != text.startIndex,
                   UInt64(text[..<i]) != nil, AgentCommands.scaledBytes("1" + text[i...], defaultScale: 1) == nil {
                    shell.lastError = VirtError(.invalidArg, "invalid argument: unknown suffix '\(text[i...])'")
                }
                return false
            }
            params.append(TypedParam(o.field, .ullong(v)))
        }
        if !params.isEmpty {
            guard await shell.call({ try await dom.setBlockIoTune(disk: disk, params, flags: flags) }) != nil else {
                shell.error("Unable to change block I/O throttle")
                shell.reportError()
                return false
            }
            return true
        }
        guard let count = await shell.call({ try await dom.blockIoTune(disk: disk, nparams: 0, flags: flags) }) else {
            shell.error("Unable to get number of block I/O throttle parameters")
            shell.reportError()
            return false
        }
        if count.nparams == 0 { return true }
        guard let r = await shell.call({ try await dom.blockIoTune(disk: disk, nparams: count.nparams, flags: flags) })
        else {
            shell.error("Unable to get block I/O throttle parameters")
            shell.reportError()
            return false
        }
        for p in r.params { shell.print(Format.padRight(p.field, 15) + ": " + paramValue(p.value) + "\n") }
        return true
    }
}
