import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Debian's virt-manager (4.1) on an X server of its own (Xvfb) with a D-Bus session bus of its own, pointed at
/// one daemon. virt-manager is a GtkApplication: the first process (`--no-fork --debug`, its debug log in a file)
/// shows the manager window, later `virt-manager --show-domain-…` invocations hand their request to it over the
/// session bus, as on a desktop. Windows are found with `xwininfo -root -tree`; screenshots are taken with
/// `xwd -id`, converted with netpbm (`xwdtopnm`, `pnmtopng`). Xvfb, the bus and virt-manager are ended by pid.
final class VirtManagerSession {
    /// What the session needs (scripts/install-deps.sh installs it).
    static let tools = ["/usr/bin/virt-manager", "/usr/bin/Xvfb", "/usr/bin/dbus-daemon", "/usr/bin/xwininfo",
                        "/usr/bin/xwd", "/usr/bin/xwdtopnm", "/usr/bin/pnmtopng"]

    /// A top-level window: its X id, its title (WM_NAME) and size.
    struct Window: Equatable, CustomStringConvertible {
        var id: String
        var title: String
        var width: Int
        var height: Int
        var description: String { "\"\(title)\" \(width)x\(height)" }
    }

    let dir: String
    let uri: String
    private(set) var display = ""
    private var xvfb: ChildProcess?
    private var bus: ChildProcess?
    private var manager: ChildProcess?
    private var environment: [String: String] = [:]

    /// virt-manager's debug log (its standard error).
    var logPath: String { dir + "/virt-manager.log" }
    var log: String { Self.read(logPath) }

    /// Starts Xvfb (it picks a free display itself: `-displayfd`) and a session bus; nothing of virt-manager yet.
    init(dir: String, uri: String) throws {
        self.dir = dir
        self.uri = uri
        let missing = Self.tools.filter { !FileManager.default.isExecutableFile(atPath: $0) }
        guard missing.isEmpty else {
            throw DaemonError.notStarted("missing \(missing.joined(separator: ", ")): run scripts/install-deps.sh "
                + "(virt-manager, xvfb, x11-apps, x11-utils, netpbm, dbus-daemon)")
        }
        do {
            try startX()
            try startBus()
        } catch {
            stop()
            throw error
        }
        let home = dir + "/home"
        for sub in ["", "/.config", "/.cache", "/run"] {
            try FileManager.default.createDirectory(atPath: home + sub, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        // No dconf service and no accessibility bus here: GSettings in GLib's key file backend (a file in the
        // test's home), no AT-SPI bridge. virt-manager's config and cache (its own log file, stored URIs) go to
        // that home too. Memory, disk and network statistics are polled (off by default) and shown in the
        // domain list beside the CPU, so that virt-manager asks the daemon for all of them.
        let settings = home + "/.config/glib-2.0/settings"
        try FileManager.default.createDirectory(atPath: settings, withIntermediateDirectories: true)
        try """
        [org/virt-manager/virt-manager/stats]
        enable-memory-poll=true
        enable-disk-poll=true
        enable-net-poll=true

        [org/virt-manager/virt-manager/vmlist-fields]
        disk-usage=true
        network-traffic=true
        memory-usage=true

        """.write(toFile: settings + "/keyfile", atomically: true, encoding: .utf8)
        environment = ChildProcess.environment(
            adding: ["DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": "unix:path=\(dir)/bus",
                     "GSETTINGS_BACKEND": "keyfile", "NO_AT_BRIDGE": "1", "HOME": home,
                     "XDG_CONFIG_HOME": home + "/.config", "XDG_CACHE_HOME": home + "/.cache",
                     "XDG_RUNTIME_DIR": home + "/run", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"],
            removing: ["WAYLAND_DISPLAY", "PYTHONPATH", "PYTHONHOME", "LANGUAGE", "GDK_BACKEND"])
    }

    private func startX() throws {
        let out = dir + "/xvfb.out"
        // -displayfd 1: Xvfb takes the first free display number (its lock files decide) and prints it on
        // standard output once it accepts clients.
        let p = try ChildProcess.spawn(["/usr/bin/Xvfb", "-displayfd", "1", "-screen", "0", "1280x1024x24",
                                        "-nolisten", "tcp"], output: .file(out))
        xvfb = p
        var number: String?
        _ = eventually(30) {
            number = Self.read(out).split(separator: "\n").first { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
                .map(String.init)
            return number != nil || !p.isRunning
        }
        guard let number, p.isRunning else { throw DaemonError.notStarted("Xvfb: \(Self.read(out))") }
        display = ":" + number
    }

    private func startBus() throws {
        let p = try ChildProcess.spawn(["/usr/bin/dbus-daemon", "--session", "--nofork", "--nopidfile",
                                        "--address=unix:path=\(dir)/bus"], output: .file(dir + "/dbus.out"))
        bus = p
        guard waitFor(path: dir + "/bus"), p.isRunning else {
            throw DaemonError.notStarted("dbus-daemon: \(Self.read(dir + "/dbus.out"))")
        }
    }

    /// The first virt-manager process: `--connect URI` shows the manager window.
    func launch() throws {
        manager = try ChildProcess.spawn(["/usr/bin/virt-manager", "--no-fork", "--debug", "--connect", uri],
                                         environment: environment, output: .file(logPath))
    }

    var managerRunning: Bool { manager?.isRunning ?? false }

    /// A later invocation (`--show-domain-editor NAME`, …): it hands its request to the running instance over
    /// the session bus and exits.
    @discardableResult
    func forward(_ args: [String]) throws -> ChildProcess.Result {
        try ChildProcess.run(["/usr/bin/virt-manager", "--connect", uri] + args, environment: environment,
                             timeLimit: 60)
    }

    /// The X tools on this display.
    func x(_ argv: [String]) throws -> ChildProcess.Result {
        try ChildProcess.run(argv, environment: environment, timeLimit: 30)
    }

    /// The root window's children that have a name, as `xwininfo -root -tree` lists them (top-level only).
    func windows() -> [Window] {
        guard let r = try? x(["/usr/bin/xwininfo", "-root", "-tree"]), r.status == 0 else { return [] }
        var out: [Window] = []
        // "     0x200007 "Virtual Machine Manager": ("virt-manager" "Virt-manager")  550x550+0+0  +0+0"
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        guard let indent = lines.compactMap({ line -> Int? in
            let t = line.drop(while: { $0 == " " })
            return t.hasPrefix("0x") ? line.count - t.count : nil
        }).min() else { return [] }
        for line in lines {
            let t = line.drop(while: { $0 == " " })
            guard line.count - t.count == indent, t.hasPrefix("0x"),
                  let q1 = t.firstIndex(of: "\""), let end = t.range(of: "\": (") else { continue }
            let id = String(t[..<q1]).trimmingCharacters(in: .whitespaces)
            let title = String(t[t.index(after: q1)..<end.lowerBound])
            var size = (0, 0)
            for word in t[end.upperBound...].split(separator: " ") {
                let dims = word.split(whereSeparator: { $0 == "x" || $0 == "+" || $0 == "-" })
                if word.contains("x"), dims.count >= 2, let w = Int(dims[0]), let h = Int(dims[1]) {
                    size = (w, h)
                    break
                }
            }
            out.append(Window(id: id, title: title, width: size.0, height: size.1))
        }
        return out
    }

    /// Whether the window is mapped and viewable.
    func isViewable(_ window: Window) -> Bool {
        ((try? x(["/usr/bin/xwininfo", "-id", window.id]))?.stdout ?? "").contains("Map State: IsViewable")
    }

    /// Waits for a viewable top-level window with this title.
    func waitForWindow(_ title: String, seconds: Double = 60) -> Window? {
        var found: Window?
        _ = eventually(seconds) {
            found = windows().first { $0.title == title && isViewable($0) }
            return found != nil || !managerRunning
        }
        return found
    }

    /// Waits until virt-manager's log contains `text`.
    func waitForLog(_ text: String, seconds: Double = 60) -> Bool {
        eventually(seconds) { log.contains(text) || !managerRunning } && log.contains(text)
    }

    /// A screenshot of the window (as the screen shows it) at `path` (PNG), and its pixels.
    func screenshot(_ window: Window, to path: String) throws -> PixelImage {
        let base = dir + "/shot-\(window.id)"
        let r = try x(["/usr/bin/xwd", "-silent", "-id", window.id, "-out", base + ".xwd"])
        guard r.status == 0 else { throw DaemonError.notStarted("xwd: \(r.stderr)") }
        let c = try ChildProcess.run(["/bin/sh", "-c", "xwdtopnm \"$1\".xwd > \"$1\".ppm && pnmtopng \"$1\".ppm > \"$2\"",
                                      "sh", base, path], timeLimit: 30)
        guard c.status == 0, let image = PixelImage(ppm: base + ".ppm") else {
            throw DaemonError.notStarted("xwdtopnm/pnmtopng: \(c.stderr)")
        }
        return image
    }

    /// Screenshots of the window, one a second after a first second, until the rows `rows` (of the window's
    /// height) show more than `colours` colours (drawn, the guest's screen arrived), for at most `seconds`; the
    /// last one stays at `path`. Returns its colour count there.
    func settledScreenshot(_ window: Window, to path: String, rows: (Int) -> Range<Int> = { 0..<$0 },
                           moreThan colours: Int, seconds: Double = 30) throws -> (colours: Int, image: PixelImage) {
        let end = Date().addingTimeInterval(seconds)
        var count = 0
        var image: PixelImage
        repeat {
            sleep(1)
            image = try screenshot(window, to: path)
            count = image.colours(rows: rows(image.height))
        } while count <= colours && Date() < end
        return (count, image)
    }

    /// virt-manager, the bus and Xvfb, each by its pid.
    func stop() {
        manager?.terminate()
        manager = nil
        bus?.terminate()
        bus = nil
        xvfb?.terminate()
        xvfb = nil
    }

    static func read(_ path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    deinit { stop() }
}

/// An RGB image read from a binary PPM (P6: what `xwdtopnm` writes; 8 bits a sample for a 24-bit window, 16 for a
/// 32-bit one, brought down to 8).
struct PixelImage {
    let width: Int
    let height: Int
    let rgb: [UInt8]

    init?(ppm path: String) {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let bytes = [UInt8](data)
        var fields: [Int] = []
        var i = 2
        guard bytes.count > 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "6") else { return nil }
        while fields.count < 3 && i < bytes.count {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0a || bytes[i] == 0x09 || bytes[i] == 0x0d { i += 1 }
            if i < bytes.count, bytes[i] == UInt8(ascii: "#") {
                while i < bytes.count, bytes[i] != 0x0a { i += 1 }
                continue
            }
            var v = 0
            var digits = 0
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                v = v * 10 + Int(bytes[i] - 0x30)
                i += 1
                digits += 1
            }
            guard digits > 0 else { return nil }
            fields.append(v)
        }
        i += 1
        // A 32-bit (ARGB) window comes out with maxval 65535: two bytes a sample, the high one first.
        let wide = fields.count == 3 && fields[2] > 255
        let size = fields.count == 3 ? fields[0] * fields[1] * 3 : 0
        guard fields.count == 3, fields[2] > 0, fields[2] <= 65535, bytes.count - i >= size * (wide ? 2 : 1) else {
            return nil
        }
        width = fields[0]
        height = fields[1]
        if wide {
            let maxval = fields[2]
            rgb = (0..<size).map { k in
                UInt8((Int(bytes[i + 2 * k]) << 8 | Int(bytes[i + 2 * k + 1])) * 255 / maxval)
            }
        } else {
            rgb = Array(bytes[i..<(i + size)])
        }
    }

    /// The share of pixels that differ from `other`'s (nil when the sizes differ).
    func differingShare(_ other: PixelImage) -> Double? {
        guard width == other.width, height == other.height, width * height > 0 else { return nil }
        var n = 0
        for p in 0..<(width * height) where rgb[3 * p] != other.rgb[3 * p] || rgb[3 * p + 1] != other.rgb[3 * p + 1]
            || rgb[3 * p + 2] != other.rgb[3 * p + 2] {
            n += 1
        }
        return Double(n) / Double(width * height)
    }

    /// The number of distinct colours in rows `rows` (stops counting at `limit`).
    func colours(rows: Range<Int>, limit: Int = 64) -> Int {
        var seen = Set<UInt32>()
        for y in rows.clamped(to: 0..<height) {
            var o = y * width * 3
            for _ in 0..<width {
                seen.insert(UInt32(rgb[o]) << 16 | UInt32(rgb[o + 1]) << 8 | UInt32(rgb[o + 2]))
                if seen.count >= limit { return seen.count }
                o += 3
            }
        }
        return seen.count
    }
}

/// issue 11's proof with virt-manager: Debian's virt-manager 4.1 under Xvfb, once against virtd and once against
/// Debian's libvirtd 9.0, each holding the same two domains (a running TCG domain with VNC graphics on a unix
/// socket and a VGA screen where SeaBIOS waits at its boot prompt, and a shut-off one). On each daemon
/// virt-manager shows its manager window with the domains, the running domain's details and then its graphical
/// console, its performance page and the connection's details. The URI is `qemu:///system?socket=…`: a local
/// connection (virt-manager 4.1 refuses the console of a `qemu+unix://` URI as "remote"), so the console's socket
/// comes from DOMAIN_OPEN_GRAPHICS_FD, the descriptor passed over the daemon's unix socket. Screenshots
/// (manager.png, details.png, console.png, performance.png, host.png) are kept (not in git) under
/// `.build/test-artifacts/virt-manager/{virtd,libvirtd}/` with virt-manager's debug log, the daemon's log of the
/// run and the window list; `differing-pixels.txt` beside them says how much each pair differs.
@Suite("virt-manager (Debian) under Xvfb: virtd vs libvirtd 9.0", .serialized, .tags(.qemu, .root, .referenceLibvirtd))
struct VirtManagerTests {
    /// What one run of virt-manager showed.
    struct Run {
        var windows: [String] = []
        var domainsListed: [String] = []
        var viewerConnected = false
        var vncByHost = false
        /// virt-manager's log lines that tell of an error (tracebacks, error dialogs, ERROR records), without
        /// timestamps and pids.
        var errors: [String] = []
        var consoleColours = 0
        var managerColours = 0
        var detailsColours = 0
        /// The screenshots: manager, details, console.
        var images: [String: PixelImage] = [:]
        var log = ""
        /// What the daemon logged while virt-manager ran.
        var daemonLog = ""
    }

    static var artifacts: String { TestPaths.repoRoot + "/.build/test-artifacts/virt-manager" }

    /// Lines of virt-manager's debug log that report errors, stripped of their timestamp and pid.
    static func errorLines(_ log: String) -> [String] {
        var out: [String] = []
        for line in log.split(separator: "\n") {
            let l = String(line)
            let lower = l.lowercased()
            guard l.contains("] ERROR (") || l.contains("] WARNING (") || l.hasPrefix("Traceback")
                    || lower.contains("error dialog") || l.contains("libvirtError") || lower.contains("exception")
            else { continue }
            // "[Fri, 04 Dec 2026 19:42:24 virt-manager 13987] ERROR (console:737) …"
            if let r = l.range(of: "] ") { out.append(String(l[r.upperBound...])) } else { out.append(l) }
        }
        return out
    }

    /// Domains defined on a daemon (`virsh` there): QEMUGuestOpsTests' VGA domain `scr` (VNC on a socket under
    /// `dir/vnc`) and the headless `nov`; `scr` started. A transient `default` storage pool under `dir`:
    /// virt-manager otherwise defines one at /var/lib/libvirt/images, and a persistent pool of the reference
    /// libvirtd would be written to the host's /etc/libvirt/storage.
    static func prepare(dir: String, _ run: (String) throws -> ChildProcess.Result) throws {
        try QEMUGuestOpsTests.setUp(dir: dir, run)
        try FileManager.default.createDirectory(atPath: dir + "/pool", withIntermediateDirectories: true)
        for command in ["pool-create-as default dir --target \(dir)/pool", "start scr"] {
            let r = try run(command)
            #expect(r.status == 0, "\(command): \(r.stdout) \(r.stderr)")
        }
    }

    /// virt-manager against `uri`: manager window, details, console; screenshots and the log into `artifacts`.
    static func runVirtManager(uri: String, dir: String, artifacts: String, daemonLog: String) throws -> Run {
        let logStart = VirtManagerSession.read(daemonLog).utf8.count
        try? FileManager.default.removeItem(atPath: artifacts)
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let session = try VirtManagerSession(dir: dir, uri: uri)
        defer {
            session.stop()
            try? FileManager.default.copyItem(atPath: session.logPath, toPath: artifacts + "/virt-manager.log")
        }
        var run = Run()
        try session.launch()

        // The manager window, once the connection is up and both domains are listed.
        let manager = session.waitForWindow("Virtual Machine Manager")
        #expect(manager != nil, "no manager window on \(uri); log:\n\(session.log)")
        #expect(session.waitForLog("domain=scr status=Running added"), "scr not listed on \(uri)")
        #expect(session.waitForLog("domain=nov status=Shutoff added"), "nov not listed on \(uri)")
        #expect(session.waitForLog("Showing manager"), "the manager was not shown on \(uri)")
        for line in session.log.split(separator: "\n") {
            if let r = line.range(of: "DEBUG (connection:"), let d = line.range(of: "domain=", range: r.upperBound..<line.endIndex),
               line.hasSuffix(" added") {
                run.domainsListed.append(String(line[d.lowerBound...]))
            }
        }
        run.domainsListed.sort()
        if let manager {
            (run.managerColours, run.images["manager"]) = try session.settledScreenshot(
                manager, to: artifacts + "/manager.png", moreThan: 4)
        }

        // The details window (its Overview page); virt-manager opens the VNC viewer with it.
        try session.forward(["--show-domain-editor", "scr"])
        let details = session.waitForWindow("scr on QEMU/KVM")
        #expect(details != nil, "no details window on \(uri); log:\n\(session.log)")
        #expect(session.waitForLog("Showing VM details"), "details not shown on \(uri)")
        if let details {
            (run.detailsColours, run.images["details"]) = try session.settledScreenshot(
                details, to: artifacts + "/details.png", moreThan: 4)
        }

        // The graphical console page of the same window.
        try session.forward(["--show-domain-console", "scr"])
        #expect(session.waitForLog("show_window=console domain=scr"), "console not requested on \(uri)")
        run.viewerConnected = session.waitForLog("Viewer connected")
        if let details {
            // Below the menu and the toolbar: the guest's screen (SeaBIOS's text on black).
            (run.consoleColours, run.images["console"]) = try session.settledScreenshot(
                details, to: artifacts + "/console.png", rows: { ($0 / 5)..<$0 }, moreThan: 1)
        }
        // The performance page of the same window (CPU, memory, disk and network graphs from the statistics).
        try session.forward(["--show-domain-performance", "scr"])
        #expect(session.waitForLog("show_window=performance domain=scr"), "performance not requested on \(uri)")
        if let details {
            (_, run.images["performance"]) = try session.settledScreenshot(
                details, to: artifacts + "/performance.png", moreThan: 4)
        }

        // The connection's details (overview, virtual networks, storage pools): a window of its own.
        try session.forward(["--show-host-summary"])
        let host = session.waitForWindow("QEMU/KVM - Connection Details")
        #expect(host != nil, "no connection details window on \(uri); windows \(session.windows())")
        if let host {
            (_, run.images["host"]) = try session.settledScreenshot(host, to: artifacts + "/host.png", moreThan: 4)
        }

        // The New VM wizard (domain capabilities, pools, networks, the OS database) and the delete dialog of the
        // shut-off domain (its disk looked up among the storage volumes), for the calls they make; neither is gone
        // through. No screenshots: GTK leaves these two unpainted on an X server without a window manager (black,
        // against either daemon).
        try session.forward(["--show-domain-creator"])
        #expect(session.waitForWindow("New VM") != nil, "no New VM window on \(uri); windows \(session.windows())")
        #expect(session.waitForLog("Showing new vm wizard"), "no New VM wizard on \(uri)")
        try session.forward(["--show-domain-delete", "nov"])
        #expect(session.waitForWindow("Delete Virtual Machine") != nil,
                "no delete dialog on \(uri); windows \(session.windows())")
        #expect(session.waitForLog("Showing delete wizard"), "no delete dialog on \(uri)")
        sleep(2)

        run.windows = session.windows().map { "\($0)" }.sorted()
        try run.windows.joined(separator: "\n").write(toFile: artifacts + "/windows.txt", atomically: true, encoding: .utf8)
        run.log = session.log
        run.vncByHost = run.log.contains("VNC connecting to host=")
        run.errors = errorLines(run.log)
        #expect(session.managerRunning, "virt-manager exited on \(uri):\n\(run.log)")
        // Before virt-manager ends (libvirtd logs a client that goes away as an error).
        run.daemonLog = String(decoding: Data(VirtManagerSession.read(daemonLog).utf8).dropFirst(logStart), as: UTF8.self)
        try? run.daemonLog.write(toFile: artifacts + "/" + URL(fileURLWithPath: daemonLog).lastPathComponent,
                                 atomically: true, encoding: .utf8)
        return run
    }

    /// virtd's failed calls (logged as warnings: "call NAME (N) … failed in X ms: MESSAGE (code N)"): the
    /// procedure's name and the message as libvirt words it (without the code).
    static func virtdFailures(_ log: String) -> [(name: String, message: String)] {
        log.split(separator: "\n").compactMap { line -> (name: String, message: String)? in
            guard let c = line.range(of: "call "), let f = line.range(of: ": failed in ") else { return nil }
            let name = line[c.upperBound...].prefix { $0 != " " }
            let rest = line[f.upperBound...]
            var message = rest.range(of: " ms: ").map { rest[$0.upperBound...] } ?? rest
            if let code = message.range(of: " (code ", options: .backwards) { message = message[..<code.lowerBound] }
            return (String(name), String(message))
        }
    }

    /// libvirtd's error records ("…: error : function:line : MESSAGE") as their messages.
    static func libvirtdErrors(_ log: String) -> [String] {
        log.split(separator: "\n").compactMap { line -> String? in
            guard let e = line.range(of: ": error : ") else { return nil }
            let rest = line[e.upperBound...]
            return rest.range(of: " : ").map { String(rest[$0.upperBound...]) } ?? String(rest)
        }
    }

    /// The calls virt-manager makes that virtd once refused (NO_SUPPORT): the snapshot listing of a QEMU domain
    /// (the details window) and node device event registration (every connection), with python3-libvirt, good
    /// and bad; results and errors (code, domain, message).
    static let probedCalls = #"""
    import libvirt, sys, json
    libvirt.virEventRegisterDefaultImpl()
    c = libvirt.open(sys.argv[1])
    d = c.lookupByName('scr')
    out = []
    def call(name, f):
        try:
            out.append([name, 'ok', f()])
        except libvirt.libvirtError as e:
            out.append([name, e.get_error_code(), e.get_error_domain(), e.get_error_message()])
    call('listAllSnapshots', lambda: [s.getName() for s in d.listAllSnapshots()])
    call('listAllSnapshots roots topological', lambda: len(d.listAllSnapshots(1 | 1024)))
    call('listAllSnapshots 0x800', lambda: len(d.listAllSnapshots(0x800)))
    call('snapshotNum', lambda: d.snapshotNum())
    call('snapshotNum topological', lambda: d.snapshotNum(1024))
    call('snapshotListNames', lambda: d.snapshotListNames())
    call('snapshotListNames 0x800', lambda: d.snapshotListNames(0x800))
    call('hasCurrentSnapshot', lambda: d.hasCurrentSnapshot())
    call('hasCurrentSnapshot 1', lambda: d.hasCurrentSnapshot(1))
    call('snapshotLookupByName', lambda: d.snapshotLookupByName('nosuch').getName())
    call('snapshotLookupByName 1', lambda: d.snapshotLookupByName('nosuch', 1).getName())
    call('snapshotCurrent', lambda: d.snapshotCurrent().getName())
    call('snapshotCurrent 1', lambda: d.snapshotCurrent(1).getName())
    call('snapshot of nov', lambda: len(c.lookupByName('nov').listAllSnapshots()))
    def cb(*args):
        pass
    ids = []
    call('nodeDeviceEventRegisterAny lifecycle', lambda: ids.append(c.nodeDeviceEventRegisterAny(None, 0, cb, None)) or 'registered')
    call('nodeDeviceEventRegisterAny update', lambda: ids.append(c.nodeDeviceEventRegisterAny(None, 1, cb, None)) or 'registered')
    call('nodeDeviceEventRegisterAny one device', lambda: ids.append(c.nodeDeviceEventRegisterAny(c.nodeDeviceLookupByName('computer'), 0, cb, None)) or 'registered')
    for i in ids:
        call('nodeDeviceEventDeregisterAny', lambda: c.nodeDeviceEventDeregisterAny(i))
    call('nodeDeviceEventDeregisterAny again', lambda: c.nodeDeviceEventDeregisterAny(ids[0]))
    print(json.dumps(out))
    """#

    @Test("virt-manager lists the domains, shows a running domain's details and its VNC console (DOMAIN_OPEN_GRAPHICS_FD) through virtd as through libvirtd 9.0")
    func virtManagerLikeLibvirtd() throws {
        let ours = try RestartableVirtd(config: "log_level = 1\n")
        defer { ours.cleanup() }
        let ref = try StatsReferenceLibvirtd()
        defer { ref.stop() }
        try Self.prepare(dir: ours.dir) { try ours.virsh($0) }
        try Self.prepare(dir: ref.dir) { try virsh(ref.uri, $0) }

        // Local URIs (no transport): virt-manager asks for the console's descriptor.
        let ourURI = "qemu:///system?socket=\(ours.socket)"
        let refURI = "qemu:///system?socket=\(ref.dir)/libvirt-sock"
        let o = try Self.runVirtManager(uri: ourURI, dir: ours.dir, artifacts: Self.artifacts + "/virtd",
                                        daemonLog: ours.dir + "/log/virtd.log")
        let r = try Self.runVirtManager(uri: refURI, dir: ref.dir, artifacts: Self.artifacts + "/libvirtd",
                                        daemonLog: ref.dir + "/libvirtd.log")

        for (name, run) in [("virtd", o), ("libvirtd", r)] {
            #expect(run.domainsListed == ["domain=nov status=Shutoff added", "domain=scr status=Running added"],
                    "\(name): \(run.domainsListed)")
            #expect(run.viewerConnected, "\(name): the VNC viewer did not connect:\n\(run.log)")
            #expect(!run.vncByHost, "\(name): virt-manager connected to VNC by address, not by descriptor")
            #expect(run.managerColours > 4 && run.detailsColours > 4, "\(name): blank windows")
            #expect(run.consoleColours > 1, "\(name): the console shows a single colour")
            #expect(run.windows.contains { $0.hasPrefix("\"Virtual Machine Manager\"") }, "\(name): \(run.windows)")
            #expect(run.windows.contains { $0.hasPrefix("\"scr on QEMU/KVM\"") }, "\(name): \(run.windows)")
        }
        // The same windows (titles and sizes) and the same errors (none expected) in virt-manager's log.
        #expect(o.windows == r.windows, "windows: virtd \(o.windows) libvirtd \(r.windows)")
        #expect(o.errors == r.errors, "virt-manager's errors: virtd \(o.errors) libvirtd \(r.errors)")
        // The same pictures, but for the domain's UUID (on the details page and in SeaBIOS's banner), the text
        // cursor and the graphs: a few percent of the pixels at most. The performance page and the connection's
        // details (graphs of CPU and memory use, the socket's path) are only recorded.
        var shares: [String] = []
        for name in ["manager", "details", "console", "performance", "host"] {
            let share = o.images[name].flatMap { ours in r.images[name].flatMap { ours.differingShare($0) } }
            shares.append("\(name) \(share.map { String(format: "%.4f", $0) } ?? "different sizes")")
            if ["manager", "details", "console"].contains(name) {
                #expect(share.map { $0 < 0.03 } == true,
                        "\(name): \(share.map { "\($0 * 100)% of the pixels differ" } ?? "sizes differ")")
            }
        }
        try? shares.joined(separator: "\n").write(toFile: Self.artifacts + "/differing-pixels.txt", atomically: true,
                                                  encoding: .utf8)

        // virtd was asked for the console's descriptor; calls that failed on either daemon are the same.
        let openFD = o.daemonLog.split(separator: "\n").filter { $0.contains("call DOMAIN_OPEN_GRAPHICS_FD (343)") }
        #expect(!openFD.isEmpty && openFD.allSatisfy { $0.contains(": ok in ") },
                "virtd's log of DOMAIN_OPEN_GRAPHICS_FD: \(openFD)")
        let ourFailures = Self.virtdFailures(o.daemonLog)
        let refErrors = Set(Self.libvirtdErrors(r.daemonLog))
        #expect(Set(ourFailures.map(\.message)) == refErrors, "failed calls: virtd \(ourFailures) libvirtd \(refErrors)")

        try Self.probedCalls.write(toFile: ours.dir + "/probe.py", atomically: true, encoding: .utf8)
        let op = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/probe.py", ourURI], timeLimit: 60)
        let rp = try ChildProcess.run(["/usr/bin/python3", ours.dir + "/probe.py", refURI], timeLimit: 60)
        #expect(op.status == 0 && rp.status == 0, "\(op.stderr) \(rp.stderr)")
        #expect(op.stdout == rp.stdout, "python3-libvirt:\n virtd    \(op.stdout)\n libvirtd \(rp.stdout)")
    }
}
