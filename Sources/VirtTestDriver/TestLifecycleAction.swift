import VirtCore

/// What the test driver does when a guest powers off or reboots (`<on_poweroff>`, `<on_reboot>`), reduced to the
/// two outcomes libvirt's `testDomainActionSetState` distinguishes.
enum TestLifecycleAction: Sendable {
    /// The domain keeps running (restart, rename-restart): running/booted, no event.
    case restart
    /// The domain stops (destroy, preserve and the rest): shutoff/shutdown with a stopped/shutdown event.
    case stop

    /// libvirt's mapping from a lifecycle action to its outcome.
    static func from(_ action: LifecycleAction) -> TestLifecycleAction {
        switch action {
        case .restart, .renameRestart: .restart
        case .destroy, .preserve: .stop
        }
    }

    /// The action on guest power-off (`<on_poweroff>`, default destroy).
    static func onPoweroff(_ def: DomainDefinition) -> TestLifecycleAction { from(def.onPoweroff) }

    /// The action on guest reboot (`<on_reboot>`, default restart).
    static func onReboot(_ def: DomainDefinition) -> TestLifecycleAction { from(def.onReboot) }
}
