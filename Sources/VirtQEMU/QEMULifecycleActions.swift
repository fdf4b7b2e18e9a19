import VirtCore

/// The lifecycle actions (`<on_poweroff>`, `<on_reboot>`, `<on_crash>`) as libvirt 9.0's QEMU driver
/// accepts and carries them out.
///
/// - on_poweroff: destroy (QEMU is ended: SHUTDOWN, then STOPPED/SHUTDOWN) or restart (libvirt's fake
///   reboot: `system_reset`, then `cont`; transient, so no lifecycle event and no state change, only the
///   REBOOT of QEMU's RESET).
/// - on_reboot: restart (QEMU resets the guest itself: a REBOOT event) or destroy (QEMU is told
///   `set-action reboot=shutdown`, so a guest reboot ends in a SHUTDOWN and the domain shuts off).
/// - on_crash (a guest panic reported by a `<panic>` device): destroy, restart, preserve, coredump-destroy,
///   coredump-restart.
/// - preserve for on_poweroff/on_reboot and rename-restart anywhere are refused at define time.
enum QEMULifecycleActions {
    /// libvirt's define-time checks of the QEMU driver (`qemuValidateLifecycleAction`).
    static func validate(_ def: DomainDefinition) throws(VirtError) {
        if def.onPoweroff == .renameRestart || def.onReboot == .renameRestart || def.onCrash == .renameRestart {
            throw VirtError.configUnsupported(
                "qemu driver doesn't support the 'rename-restart' action for 'on_reboot'/'on_poweroff'/'on_crash'",
                domain: .qemu)
        }
        if def.onReboot == .destroy && def.onPoweroff == .restart {
            // libvirt's words, its unbalanced quote included.
            throw VirtError.configUnsupported(
                "qemu driver doesn't support 'onReboot' set to 'destroy and 'onPoweroff' set to 'reboot'",
                domain: .qemu)
        }
        if def.onPoweroff == .preserve || def.onReboot == .preserve {
            throw VirtError.configUnsupported(
                "qemu driver doesn't support the 'preserve' action for 'on_reboot'/'on_poweroff'", domain: .qemu)
        }
    }

    /// Whether a SHUTDOWN from QEMU turns into a fake reboot instead of ending QEMU
    /// (`qemuProcessShutdownOrReboot`).
    static func restartsOnShutdown(_ def: DomainDefinition, fakeReboot: Bool) -> Bool {
        fakeReboot || def.onPoweroff == .restart
    }

    /// Whether QEMU must be told `set-action reboot=shutdown` after start (`qemuProcessSetupLifecycleActions`).
    static func needsRebootShutdownAction(_ def: DomainDefinition) -> Bool {
        def.onReboot == .destroy
    }
}
