import Foundation
import Testing
import VirtTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The system daemon on libvirt's own socket paths, reached as libvirt's clients reach libvirtd: `qemu:///system`
/// with no URI parameters, and `qemu+ssh://` through an sshd (the far end runs virt-ssh-helper or netcat against
/// /var/run/libvirt/libvirt-sock). virtd (no `--root`) and sshd run in a private mount namespace with tmpfs over
/// the daemon's system directories, so nothing of the host's is touched; the clients are Debian's virsh and
/// python3-libvirt, and vsh.
@Suite("qemu:///system and qemu+ssh:// to the system daemon", .serialized, .tags(.root))
struct SSHTransportTests {
    final class SystemDaemonWithSSH {
        let dir: String
        private(set) var port = 0
        var sshd: ChildProcess?

        init() throws {
            dir = try TestPaths.makeTempDir("sshd", mode: 0o755)
            do {
                try setUp()
            } catch {
                stop()
                throw error
            }
        }

        private func setUp() throws {
            for key in ["host", "client"] {
                let r = try ChildProcess.run(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir + "/" + key])
                guard r.status == 0 else { throw DaemonError.notStarted("ssh-keygen: \(r.stderr)") }
            }
            try FileManager.default.copyItem(atPath: dir + "/client.pub", toPath: dir + "/authorized_keys")
            let port = Self.freePort()
            let config = """
                Port \(port)
                ListenAddress 127.0.0.1
                HostKey \(dir)/host
                AuthorizedKeysFile \(dir)/authorized_keys
                PermitRootLogin prohibit-password
                UsePAM no
                StrictModes no
                PidFile \(dir)/sshd.pid
                LogLevel ERROR

                """
            try config.write(toFile: dir + "/sshd_config", atomically: true, encoding: .utf8)
            // The client's ssh, without touching the host's known_hosts.
            try """
                #!/bin/sh
                exec /usr/bin/ssh -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \\
                    -o StrictHostKeyChecking=no -o LogLevel=ERROR "$@"

                """.write(toFile: dir + "/ssh", atomically: true, encoding: .utf8)
            chmod(dir + "/ssh", 0o755)
            // The namespace: tmpfs over the system daemon's directories (created empty on the host when missing,
            // as a system virtd would), virtd without --root, then sshd in the foreground.
            var script = ""
            for d in ["/run/libvirt", "/run/swiftvirt", "/etc/swiftvirt", "/var/lib/swiftvirt", "/var/log/swiftvirt"] {
                script += "mkdir -p \(d) && mount -t tmpfs -o mode=0755 tmpfs \(d) && "
            }
            script += "mkdir -p /run/sshd && chmod 0755 /run/sshd && "
                + "printf 'log_level = 3\\n' > /etc/swiftvirt/virtd.conf && "
                + "('\(TestPaths.virtd)' > '\(dir)/virtd.out' 2>&1 & echo $! > '\(dir)/virtd.pid') && "
                + "i=0; while [ ! -S /run/libvirt/libvirt-sock ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; "
                + "exec /usr/sbin/sshd -D -e -f '\(dir)/sshd_config'"
            sshd = try ChildProcess.spawn(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script],
                                          output: .file(dir + "/sshd.out"))
            self.port = port
            guard eventually(60, { Self.listening(port) }) else {
                throw DaemonError.notStarted("sshd: \((try? String(contentsOfFile: dir + "/sshd.out", encoding: .utf8)) ?? "")")
            }
        }

        var virtdPID: pid_t? {
            (try? String(contentsOfFile: dir + "/virtd.pid", encoding: .utf8))
                .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }

        func uri(_ extra: String = "") -> String {
            "qemu+ssh://root@127.0.0.1:\(port)/system?keyfile=\(dir)/client&no_tty=1&command=\(dir)/ssh" + extra
        }

        /// Runs `argv` inside the daemon's mount namespace.
        func inside(_ argv: [String]) throws -> ChildProcess.Result {
            guard let pid = virtdPID else { throw DaemonError.notStarted("virtd") }
            return try ChildProcess.run(["/usr/bin/nsenter", "-t", "\(pid)", "-m"] + argv, timeLimit: 60)
        }

        func stop() {
            if let pid = virtdPID {
                kill(pid, SIGTERM)
                _ = eventually(10) { !ProcFS.isAlive(pid) }
                if ProcFS.isAlive(pid) { kill(pid, SIGKILL) }
            }
            sshd?.terminate()
            sshd = nil
            try? FileManager.default.removeItem(atPath: dir)
        }

        static func freePort() -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
            }
            return Int(UInt16(bigEndian: addr.sin_port))
        }

        static func listening(_ port: Int) -> Bool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            return withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
        }
    }

    @Test("virsh, vsh and python3-libvirt: qemu:///system on the default socket, and qemu+ssh:// by virt-ssh-helper and by netcat")
    func systemAndSSH() throws {
        let env = try SystemDaemonWithSSH()
        defer { env.stop() }
        // Inside the namespace: the default URI needs no socket parameter.
        let local = try env.inside(["/usr/bin/virsh", "-c", "qemu:///system", "uri"])
        #expect(local.status == 0 && local.stdout.contains("qemu:///system"), "\(local.stderr)")
        let ro = try env.inside(["/usr/bin/virsh", "-r", "-c", "qemu:///system", "secret-list"])
        #expect(ro.status == 0, "\(ro.stderr)")
        let vsh = try env.inside([TestPaths.vsh, "-c", "qemu:///system", "hostname"])
        #expect(vsh.status == 0 && !vsh.stdout.isEmpty, "\(vsh.stderr)")
        let sockets = try env.inside(["/bin/ls", "-l", "/run/libvirt"])
        #expect(sockets.stdout.contains("libvirt-sock") && sockets.stdout.contains("libvirt-sock-ro"), "\(sockets.stdout)")

        // Over ssh: virt-ssh-helper (proxy auto finds it), then netcat.
        try "<secret ephemeral='yes'><uuid>5a1e4d3c-0000-4000-8000-00000000beef</uuid></secret>"
            .write(toFile: env.dir + "/s.xml", atomically: true, encoding: .utf8)
        for extra in ["", "&proxy=netcat", "&proxy=native"] {
            let uri = env.uri(extra)
            let u = try ChildProcess.run(["/usr/bin/virsh", "-c", uri, "uri"], timeLimit: 60)
            #expect(u.status == 0, "\(extra): \(u.stderr)")
            #expect(u.stdout.contains("qemu+ssh://root@127.0.0.1:\(env.port)/system"), "\(extra): \(u.stdout)")
            let d = try ChildProcess.run(["/usr/bin/virsh", "-c", uri, "secret-define", env.dir + "/s.xml"], timeLimit: 60)
            #expect(d.status == 0, "\(extra): \(d.stderr)")
            let l = try ChildProcess.run(["/usr/bin/virsh", "-c", uri, "secret-list"], timeLimit: 60)
            #expect(l.stdout.contains("5a1e4d3c-0000-4000-8000-00000000beef"), "\(extra): \(l.stdout) \(l.stderr)")
        }
        let py = try ChildProcess.run(["/usr/bin/python3", "-c", """
            import libvirt, sys
            c = libvirt.open(sys.argv[1])
            print(c.getType(), c.getHostname() != "", [s.UUIDString() for s in c.listAllSecrets()])
            c.close()
            r = libvirt.openReadOnly(sys.argv[1])
            try:
                r.secretDefineXML("<secret/>")
            except libvirt.libvirtError as e:
                print("ro", e.get_error_code())
            """, env.uri()], timeLimit: 60)
        #expect(py.status == 0, "\(py.stderr)")
        #expect(py.stdout.contains("QEMU True ['5a1e4d3c-0000-4000-8000-00000000beef']"), "\(py.stdout)")
        #expect(py.stdout.contains("ro 29"), "\(py.stdout)")  // OPERATION_DENIED (read-only)
    }
}
