import Testing

/// What a test needs from the machine, as Swift Testing tags. Every test or suite that needs one carries it,
/// so that a contributor without it can leave those tests out (README, "Tests"; `scripts/test-unprivileged.sh`).
/// The tests themselves never skip: on a machine without what they need they fail (CI runs everything).
extension Tag {
    /// Runs real QEMU (`qemu-system-x86_64`, under KVM or TCG), directly, through our driver or libvirt's.
    @Tag public static var qemu: Self
    /// Needs /dev/kvm, readable and writable.
    @Tag public static var kvm: Self
    /// Needs root: other users' ids (QEMU as `libvirt-qemu`, chown of images), mount namespaces, libvirt's
    /// system paths.
    @Tag public static var root: Self
    /// Starts Debian's libvirtd 9.0 (the reference daemon) in a private mount namespace; needs root.
    @Tag public static var referenceLibvirtd: Self
}
