import VirtCore

#if canImport(Glibc)
import Glibc
#endif

/// The lock that makes one process the only manager of an embed root, as libvirt's QEMU driver does with
/// its `driver.pid` file in the state directory: a write lock held for the life of the process, the file
/// holding the owner's pid. The lock is an open-file-description lock (`F_OFD_SETLK`), so that reading the
/// pid file elsewhere in the process (closing another descriptor of it) does not drop it, as it would a
/// classic POSIX record lock; towards other processes it conflicts just like libvirt's `F_SETLK`.
enum QEMUDriverLock {
    /// Linux's `F_OFD_SETLK`.
    private static let ofdSetLock: Int32 = 37

    /// Takes the lock on `stateDir/driver.pid` and writes our pid into it; returns the descriptor that holds
    /// the lock (kept open for the life of the process). Fails as libvirt's `virPidFileAcquire` does when
    /// another process holds it.
    static func acquire(stateDir: String) throws(VirtError) -> Int32 {
        try LinuxSys.mkdirs(stateDir)
        let path = stateDir + "/driver.pid"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw VirtError.lastSystemError("Failed to open pid file '\(path)'", domain: .none) }
        var fl = flock()
        fl.l_type = Int16(F_WRLCK)
        fl.l_whence = Int16(SEEK_SET)
        fl.l_start = 0
        fl.l_len = 1
        if fcntl(fd, ofdSetLock, &fl) != 0 {
            let err = VirtError.lastSystemError("Failed to acquire pid file '\(path)'", domain: .none)
            close(fd)
            throw err
        }
        _ = ftruncate(fd, 0)
        let text = Array("\(getpid())".utf8)
        _ = LinuxSys.writeAll(fdFile: fd, text)
        return fd
    }
}
