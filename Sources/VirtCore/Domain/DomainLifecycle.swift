/// `<on_poweroff>`, `<on_reboot>`: what happens when the guest powers off or reboots.
public enum LifecycleAction: String, Sendable, Hashable, CaseIterable {
    case destroy
    case restart
    case renameRestart = "rename-restart"
    case preserve
}

/// `<on_crash>`: what happens when the guest crashes.
public enum CrashAction: String, Sendable, Hashable, CaseIterable {
    case destroy
    case restart
    case renameRestart = "rename-restart"
    case preserve
    case coredumpDestroy = "coredump-destroy"
    case coredumpRestart = "coredump-restart"
}

/// `<on_lockfailure>`: what happens when a lock manager loses a lock.
public enum LockFailureAction: String, Sendable, Hashable, CaseIterable {
    case poweroff, restart, pause, ignore
}
